"""The built-in step kinds: they call the SmartSpec domain modules."""

from __future__ import annotations

import time

from workflows.engine.executors.base import StepContext, StepResult


def noop(context: StepContext) -> StepResult:
    """Does nothing (optionally sleeps or fails): a join point, and for tests and benchmarks."""
    seconds = float(context.config.get("sleep", 0))
    if seconds and context.stop_event.wait(seconds):
        return context.interrupted()
    if context.config.get("fail"):
        return StepResult.fail(context.config.get("message") or "failed on purpose")
    return StepResult.ok(item=context.item) if context.item is not None else StepResult.ok()
