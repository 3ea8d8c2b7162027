"""What each step kind does: `executor_for(kind)(context) -> StepResult`."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from workflows.engine.executors.base import StepContext, StepResult

EXECUTORS = {
    "verify_tasks": "builtin.verify_tasks",
    "sync_tasks": "builtin.sync_tasks",
    "quality_gate": "builtin.quality_gate",
    "status": "builtin.status",
    "shell": "shell.run_shell",
    "agent": "agent.run_agent",
    "approval": "approval.open_gate",
    "noop": "builtin.noop",
}

# The kinds that never change a file of the workspace: on git they commit nothing, and they
# need no turn in the run's worktree (workflows.engine.worktree_turns). Every other kind may.
LEAVES_FILES_ALONE = frozenset({"status", "approval", "noop"})


def changes_files(kind: str) -> bool:
    return kind not in LEAVES_FILES_ALONE


def executor_for(kind: str) -> Callable[[StepContext], StepResult]:
    module, name = EXECUTORS[kind].split(".")
    return getattr(import_module(f"workflows.engine.executors.{module}"), name)  # type: ignore[no-any-return]


__all__ = ["EXECUTORS", "LEAVES_FILES_ALONE", "StepContext", "StepResult", "changes_files", "executor_for"]
