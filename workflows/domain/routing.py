"""The development loop: which workflow a spec needs next, why, how urgent, how long.

The rules are tried in the order of the table in PRODUCT.md and the first that applies
wins. "Task done" means verified; a checked but unverified task is drift. Because "no task
done" comes before "checkbox drift", a spec whose every checkbox is ticked but none is
verified is sent to implement_tasks (nothing to sync yet); a spec with verified tasks and
drift (the sample workspace) is sent to sync_tasks_checkboxes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from workflows.domain.status import SpecStatus
from workflows.domain.texts import Text

MINUTES_PER_TASK = 20
# Rough minutes for the other workflows, so a dashboard can add up the work left.
ESTIMATES = {
    "generate_spec": 30,
    "generate_plan": 20,
    "generate_tasks": 15,
    "sync_tasks_checkboxes": 2,
    "verify_tasks_progress": 2,
    "generate_tests": 30,
    "test_suite_runner": 10,
    "quality_gate": 5,
    "docs_generator": 15,
    "done": 0,
}


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"
    NONE = "none"


@dataclass(frozen=True)
class Recommendation:
    workflow: str
    reason: str
    priority: Priority
    estimate_minutes: int

    @property
    def done(self) -> bool:
        return self.workflow == "done"

    def as_dict(self) -> dict[str, object]:
        return {
            "workflow": self.workflow,
            "reason": self.reason,
            "priority": str(self.priority),
            "estimate_minutes": self.estimate_minutes,
        }


def _fixed(workflow: str, reason: str, priority: Priority) -> Recommendation:
    return Recommendation(workflow, reason, priority, ESTIMATES[workflow])


def _implement(count: int, reason: str) -> Recommendation:
    return Recommendation("implement_tasks", reason, Priority.HIGH, count * MINUTES_PER_TASK)


def _missing_files(s: SpecStatus) -> Recommendation | None:
    if not s.has_spec:
        return _fixed("generate_spec", Text("spec.md is missing"), Priority.HIGH)
    if not s.has_plan:
        return _fixed("generate_plan", Text("plan.md is missing"), Priority.HIGH)
    if not s.has_tasks:
        return _fixed("generate_tasks", Text("tasks.md is missing"), Priority.HIGH)
    if s.tasks_total == 0:
        return _fixed("generate_tasks", Text("tasks.md lists no tasks"), Priority.HIGH)
    return None


def _nothing_done(s: SpecStatus) -> Recommendation | None:
    if s.tasks_verified == 0:
        reason = Text("none of the {total} tasks is verified yet", total=s.tasks_total)
        return _implement(s.tasks_total, reason)
    return None


def _drift(s: SpecStatus) -> Recommendation | None:
    if not s.has_drift:
        return None
    parts = []
    if s.checked_not_verified:
        parts.append(Text("checked but not verified: {tasks}", tasks=", ".join(s.checked_not_verified)))
    if s.verified_not_checked:
        parts.append(Text("verified but not checked: {tasks}", tasks=", ".join(s.verified_not_checked)))
    reason = Text("checkbox drift ({parts})", parts=Text.join("; ", parts))
    return _fixed("sync_tasks_checkboxes", reason, Priority.HIGH)


def _tasks_left(s: SpecStatus) -> Recommendation | None:
    left = s.tasks_total - s.tasks_verified
    if left > 0:
        reason = Text("{left} of {total} tasks are not verified yet", left=left, total=s.tasks_total)
        return _implement(left, reason)
    return None


def _stale_verification(s: SpecStatus) -> Recommendation | None:
    if s.verified_since_last_change:
        return None
    reason = Text(
        "all tasks are verified, but no verify report is newer than the last change"
        if s.last_verify_run
        else "all tasks are verified, but no verify report has been written"
    )
    return _fixed("verify_tasks_progress", reason, Priority.HIGH)


def _tests(s: SpecStatus) -> Recommendation | None:
    if not s.tests_present:
        return _fixed("generate_tests", Text("the spec has no tests"), Priority.NORMAL)
    if s.tests_passed is not True:
        reason = Text("the last test run failed" if s.tests_passed is False else "tests have not run")
        return _fixed("test_suite_runner", reason, Priority.NORMAL)
    return None


def _quality_gate(s: SpecStatus) -> Recommendation | None:
    if s.quality_gate_passed is True:
        return None
    reason = Text(
        "the last quality gate failed" if s.quality_gate_passed is False else "the quality gate has not run"
    )
    return _fixed("quality_gate", reason, Priority.NORMAL)


def _docs(s: SpecStatus) -> Recommendation | None:
    if not s.docs_present:
        return _fixed("docs_generator", Text("README.md is missing from the spec folder"), Priority.LOW)
    return None


RULES: tuple[Callable[[SpecStatus], Recommendation | None], ...] = (
    _missing_files,
    _nothing_done,
    _drift,
    _tasks_left,
    _stale_verification,
    _tests,
    _quality_gate,
    _docs,
)


def recommend(status: SpecStatus) -> Recommendation:
    for rule in RULES:
        found = rule(status)
        if found is not None:
            return found
    return _fixed("done", Text("everything is verified, tested, gated and documented"), Priority.NONE)
