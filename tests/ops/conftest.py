"""Helpers for the operations tests: finished runs and a pending approval, made quickly."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflows.engine.conftest import drain, start, template
from workflows.models import ApprovalGate, Run


@pytest.fixture(autouse=True)
def quick_engine(settings: Any) -> None:
    settings.STEP_RETRY_BACKOFF_SECONDS = 0


def finished_run(project: Any, name: str = "ops-quick", steps: int = 2) -> Run:
    chain = [{"id": "s1", "uses": "noop"}]
    chain += [{"id": f"s{i}", "uses": "noop", "needs": [f"s{i - 1}"]} for i in range(2, steps + 1)]
    run = drain(start(project, template(name=name, steps=chain)))
    assert run.status == "succeeded"
    return run


def pending_gate(project: Any, user: Any = None) -> ApprovalGate:
    run = drain(
        start(
            project,
            template(
                name="ops-gated",
                steps=[
                    {"id": "before", "uses": "noop"},
                    {
                        "id": "review",
                        "uses": "approval",
                        "needs": ["before"],
                        "with": {"approvers": ["role:approver"]},
                    },
                ],
            ),
            user,
        )
    )
    assert run.status == "waiting"
    return ApprovalGate.objects.get(run=run)
