"""django-q2 task functions: they take primary keys and call one engine function."""

from __future__ import annotations

from workflows.engine.supervisor import supervise
from workflows.engine.worker import execute_step


def execute_step_task(step_id: int) -> None:
    execute_step(step_id)


def supervise_task() -> None:
    supervise()
