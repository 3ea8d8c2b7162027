"""The `approval` step: open the gate and wait; a decision finishes the step."""

from __future__ import annotations

from workflows.engine.executors.base import StepContext, StepResult
from workflows.models import Step


def open_gate(context: StepContext) -> StepResult:
    from workflows.services.approvals import gate_open

    gate = gate_open(step=Step.objects.get(pk=context.step_pk), config=context.config)
    return StepResult("waiting", {"gate": gate.pk})
