"""The development loop: which workflow a spec needs next, why, how urgent, how long.

The rules are tried in order and the first that applies wins. The order is the table in
PRODUCT.md with rows for evidence hooks inserted where they change what is worth doing:

| # | rule | state | next |
|---|---|---|---|
| 1 | `_missing_files` | no spec.md, plan.md, tasks.md or tasks | generate_spec, _plan, _tasks |
| 2 | `_no_hooks` | not a single task has evidence | add_evidence_hooks |
| 3 | `_only_broken_hooks` | no task verified, and a hook is broken | fix_evidence_hooks |
| 4 | `_nothing_done` | no task verified | implement_tasks |
| 5 | `_drift` | checkbox drift | sync_tasks_checkboxes |
| 6 | `_broken_hooks` | a hook is malformed or escapes | fix_evidence_hooks |
| 7 | `_tasks_left` | some tasks not verified | implement_tasks |
| 8 | `_stale_verification` | no verify report since the last change | verify_tasks_progress |
| 9 | `_tests` | no tests, or tests not passed | generate_tests, test_suite_runner |
| 10 | `_quality_gate` | the quality gate has not passed | quality_gate |
| 11 | `_docs` | no README.md | docs_generator |
| | otherwise | | done |

Why the hook rows sit there:

- A spec whose every task has no evidence at all (no hook, nothing implicit) is a
  checklist imported from another tool, not 90 tasks of work: "none verified" says nothing
  about the code. Its next step is to point each task at the code that implements it
  (minutes per task, capped), not "implement 90 tasks, 1800 minutes".
- A broken hook can never pass, so implementing its task cannot verify it. When nothing
  is verified yet and hooks are broken, an implementation turn could not show progress:
  fix the hooks first (row 3). Once some work is verified, the checkboxes are synced first
  (PRODUCT.md's order: the sample workspace's spec-core-001 has drift and two broken hooks
  and goes to sync_tasks_checkboxes), then the broken hooks are fixed before more work.
- A mix (some tasks with hooks, some without) is routed as before: implementing or
  syncing the tasks that have hooks is real progress, and implement_tasks adds hooks for
  the tasks it implements.

"Task done" means verified; a checked but unverified task is drift. Because "no task
done" comes before "checkbox drift", a spec whose every checkbox is ticked but none is
verified is sent to implement_tasks (nothing to sync yet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from workflows.domain.spec_formats import PLAN_OPTIONAL, SpecFormat, document_name
from workflows.domain.status import SpecStatus
from workflows.domain.texts import Text

MINUTES_PER_TASK = 20
# Pointing a task at code that already exists, or repairing one hook, is minutes of
# reading, not an implementation; the cap keeps a 90-task import from looking like a day.
MINUTES_PER_HOOK = 2
HOOK_MINUTES_CAP = 60
# Rough minutes for the other workflows, so a dashboard can add up the work left. The
# per-task workflows (implement_tasks, add_evidence_hooks, fix_evidence_hooks) are
# estimated from their counts above; their entries here are the least they take.
ESTIMATES = {
    "generate_spec": 30,
    "generate_plan": 20,
    "generate_tasks": 15,
    "fix_evidence_hooks": MINUTES_PER_HOOK,
    "add_evidence_hooks": MINUTES_PER_HOOK,
    "implement_tasks": MINUTES_PER_TASK,
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


def _hooks(workflow: str, count: int, reason: str) -> Recommendation:
    minutes = min(HOOK_MINUTES_CAP, max(1, count) * MINUTES_PER_HOOK)
    return Recommendation(workflow, reason, Priority.HIGH, minutes)


def _some(ids: tuple[str, ...], shown: int = 5) -> str:
    """A list of task ids short enough for a reason line."""
    if len(ids) <= shown:
        return ", ".join(ids)
    return Text("{first} and {more} more", first=", ".join(ids[:shown]), more=len(ids) - shown)


def _missing_files(s: SpecStatus) -> Recommendation | None:
    """Each document by the name its format gives it (a Kiro spec's plan is design.md); a
    format that writes a plan only when needed (OpenSpec) is not sent to write one."""
    if not s.has_spec:
        return _fixed("generate_spec", _missing(s, "spec.md"), Priority.HIGH)
    if not s.has_plan and SpecFormat(s.format) not in PLAN_OPTIONAL:
        return _fixed("generate_plan", _missing(s, "plan.md"), Priority.HIGH)
    if not s.has_tasks:
        return _fixed("generate_tasks", _missing(s, "tasks.md"), Priority.HIGH)
    if s.tasks_total == 0:
        return _fixed("generate_tasks", Text("tasks.md lists no tasks"), Priority.HIGH)
    return None


def _missing(s: SpecStatus, name: str) -> Text:
    return Text("{name} is missing", name=document_name(s.format, name))


def _broken_hooks(s: SpecStatus) -> Recommendation | None:
    if s.invalid_hooks == 0:
        return None
    count = s.invalid_hooks
    if count == 1:
        reason = Text("1 evidence hook is malformed or points outside the workspace")
    else:
        reason = Text("{count} evidence hooks are malformed or point outside the workspace", count=count)
    if s.invalid_hook_tasks:
        reason = Text("{reason} (tasks: {tasks})", reason=reason, tasks=_some(s.invalid_hook_tasks))
    return _hooks("fix_evidence_hooks", count, reason)


def _only_broken_hooks(s: SpecStatus) -> Recommendation | None:
    return _broken_hooks(s) if s.tasks_verified == 0 else None


def _no_hooks(s: SpecStatus) -> Recommendation | None:
    if s.tasks_total == 0 or s.tasks_without_hooks < s.tasks_total:
        return None
    if s.tasks_total == 1:
        reason = Text("the one task has no evidence hook: point it at the code that implements it")
    else:
        reason = Text(
            "none of the {total} tasks has an evidence hook: point each at the code that implements it",
            total=s.tasks_total,
        )
    return _hooks("add_evidence_hooks", s.tasks_total, reason)


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
    _no_hooks,
    _only_broken_hooks,
    _nothing_done,
    _drift,
    _broken_hooks,
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
