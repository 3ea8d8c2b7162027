"""The two evidence-hook rows of the routing table: add hooks to a checklist that has none,
fix hooks that can never pass; and the mixes that still route as before."""

from __future__ import annotations

import pytest

from workflows.domain.routing import (
    HOOK_MINUTES_CAP,
    RULES,
    Priority,
    Recommendation,
    recommend,
)
from workflows.domain.status import SpecStatus, StatusCache, spec_status
from workflows.domain.workspace import Workspace


def _status(**changes: object) -> SpecStatus:
    """Four tasks with plan and spec in place, none verified; each test sets the hooks."""
    base: dict[str, object] = dict(
        spec_id="spec-x-001", category=None, path="specs/spec-x-001", has_spec=True,
        has_plan=True, has_tasks=True, docs_present=True, tasks_total=4, tasks_checked=0,
        tasks_verified=0, checked_not_verified=(), verified_not_checked=(), invalid_hooks=0,
        tests_present=True, tests_passed=True, quality_gate_passed=True,
        verified_since_last_change=True, last_verify_run="r1",
    )  # fmt: skip
    return SpecStatus(**{**base, **changes})  # type: ignore[arg-type]


def _next(**changes: object) -> Recommendation:
    return recommend(_status(**changes))


# --- add_evidence_hooks ----------------------------------------------------------------------


def test_it_adds_hooks_when_every_task_lacks_evidence() -> None:
    rec = _next(tasks_without_hooks=4)
    assert (rec.workflow, rec.priority, rec.estimate_minutes) == ("add_evidence_hooks", Priority.HIGH, 8)
    assert rec.reason == (
        "none of the 4 tasks has an evidence hook: point each at the code that implements it"
    )


def test_a_big_imported_checklist_is_minutes_of_hooks_not_days_of_implementation() -> None:
    rec = _next(tasks_total=90, tasks_checked=90, tasks_without_hooks=90,
                checked_not_verified=tuple(f"T{i:03}" for i in range(90)))  # fmt: skip
    assert rec.workflow == "add_evidence_hooks"
    assert rec.estimate_minutes == HOOK_MINUTES_CAP == 60


def test_no_hooks_comes_before_nothing_done_and_drift() -> None:
    rules = [r.__name__ for r in RULES]
    assert rules.index("_no_hooks") < rules.index("_nothing_done") < rules.index("_drift")
    rec = _next(tasks_checked=2, checked_not_verified=("T1", "T2"), tasks_without_hooks=4)
    assert rec.workflow == "add_evidence_hooks"


def test_missing_files_still_come_first() -> None:
    assert _next(has_plan=False, tasks_without_hooks=4).workflow == "generate_plan"
    assert _next(tasks_total=0, tasks_without_hooks=0).workflow == "generate_tasks"


@pytest.mark.parametrize(
    ("changes", "workflow", "minutes"),
    [
        # Some verified, the rest without hooks: drift is synced, then the rest implemented.
        (dict(tasks_verified=2, tasks_checked=3, checked_not_verified=("T3",), tasks_without_hooks=2),
         "sync_tasks_checkboxes", 2),
        (dict(tasks_verified=2, tasks_checked=2, tasks_without_hooks=2), "implement_tasks", 40),
        # None verified, but some tasks have hooks: implementing them is real progress.
        (dict(tasks_without_hooks=3), "implement_tasks", 80),
        # A ui hook is evidence too (checked by hand): not every task lacks it.
        (dict(tasks_without_hooks=3, tasks_needs_manual=1), "implement_tasks", 80),
    ],
)  # fmt: skip
def test_a_mix_routes_as_before(changes: dict[str, object], workflow: str, minutes: int) -> None:
    rec = _next(**changes)
    assert (rec.workflow, rec.estimate_minutes) == (workflow, minutes)


# --- fix_evidence_hooks ----------------------------------------------------------------------


def test_it_fixes_broken_hooks_naming_their_tasks() -> None:
    rec = _next(invalid_hooks=2, invalid_hook_tasks=("T2", "T3"))
    assert (rec.workflow, rec.priority, rec.estimate_minutes) == ("fix_evidence_hooks", Priority.HIGH, 4)
    assert rec.reason == ("2 evidence hooks are malformed or point outside the workspace (tasks: T2, T3)")


def test_one_broken_hook_is_said_in_the_singular() -> None:
    rec = _next(invalid_hooks=1, invalid_hook_tasks=("T9",))
    assert rec.reason == "1 evidence hook is malformed or points outside the workspace (tasks: T9)"
    assert rec.estimate_minutes == 2


def test_a_long_list_of_broken_tasks_is_shortened() -> None:
    ids = tuple(f"T{i}" for i in range(1, 41))
    rec = _next(tasks_total=40, invalid_hooks=40, invalid_hook_tasks=ids)
    assert rec.reason.endswith("(tasks: T1, T2, T3, T4, T5 and 35 more)")
    assert rec.estimate_minutes == HOOK_MINUTES_CAP


@pytest.mark.parametrize(
    "changes",
    [
        dict(),  # nothing verified: implement_tasks would have come next
        dict(tasks_verified=3, tasks_checked=3),  # a task left
        dict(tasks_verified=4, tasks_checked=4, verified_since_last_change=False),
        # A broken hook under a task another hook verifies still needs fixing.
        dict(tasks_verified=4, tasks_checked=4),
    ],
)
def test_broken_hooks_come_before_implementation(changes: dict[str, object]) -> None:
    rec = _next(invalid_hooks=1, invalid_hook_tasks=("T4",), **changes)
    assert rec.workflow == "fix_evidence_hooks"


def test_with_verified_work_drift_is_synced_before_broken_hooks_are_fixed() -> None:
    # PRODUCT.md's order for the sample workspace: drift comes first once work is verified.
    drift = dict(tasks_verified=3, tasks_checked=4, checked_not_verified=("T4",))
    assert _next(invalid_hooks=1, invalid_hook_tasks=("T4",), **drift).workflow == "sync_tasks_checkboxes"
    nothing_verified = dict(tasks_verified=0, tasks_checked=4, checked_not_verified=("T1", "T2", "T3", "T4"))
    assert (
        _next(invalid_hooks=1, invalid_hook_tasks=("T4",), **nothing_verified).workflow
        == "fix_evidence_hooks"
    )


def test_reasons_remember_their_templates_for_translation() -> None:
    rec = _next(invalid_hooks=2, invalid_hook_tasks=("T2", "T3"))
    assert rec.reason.template == "{reason} (tasks: {tasks})"  # type: ignore[attr-defined]
    inner = rec.reason.params["reason"]  # type: ignore[attr-defined]
    assert inner.template == "{count} evidence hooks are malformed or point outside the workspace"


# --- the status fields the rules read ---------------------------------------------------------


def test_the_status_counts_hookless_and_manual_tasks(basic_ws: Workspace) -> None:
    status = spec_status(basic_ws, "spec-core-001-authentication")
    assert status.tasks_without_hooks == 1  # T007
    assert status.tasks_needs_manual == 1  # T006
    assert status.invalid_hook_tasks == ("T008", "T009")
    assert status.format == "smartspec"
    data = status.as_dict()
    assert data["tasks_without_hooks"] == 1 and data["tasks_needs_manual"] == 1
    assert data["invalid_hook_tasks"] == ["T008", "T009"] and data["format"] == "smartspec"
    issues = data["parse_issues"]
    assert [(i["line"], i["severity"]) for i in issues] == [(43, "error")]  # type: ignore[attr-defined]
    assert issues[0]["message"].startswith("T009: ")  # type: ignore[index]


def test_a_status_built_by_hand_keeps_working_without_the_new_fields() -> None:
    status = _status()
    assert (status.tasks_without_hooks, status.tasks_needs_manual, status.format) == (0, 0, "smartspec")
    assert status.invalid_hook_tasks == () and status.parse_issues == ()
    assert recommend(status).workflow == "implement_tasks"


# --- on the fixture workspace -----------------------------------------------------------------


EXPECTED = [
    ("spec-e-01-no-hooks", "add_evidence_hooks", "high", 6),
    ("spec-e-02-broken-hooks", "sync_tasks_checkboxes", "high", 2),  # drift first, then the hooks
    ("spec-e-03-mixed-drift", "sync_tasks_checkboxes", "high", 2),
    ("spec-e-04-mixed-left", "implement_tasks", "high", 20),
    ("spec-e-05-none-verified", "implement_tasks", "high", 40),
]


@pytest.fixture
def hooks_ws(copy_workspace) -> Workspace:  # type: ignore[no-untyped-def]
    return Workspace(copy_workspace("evidence-hooks"))


@pytest.mark.parametrize(("spec_id", "workflow", "priority", "minutes"), EXPECTED)
def test_each_spec_of_the_evidence_fixture(
    hooks_ws: Workspace, spec_id: str, workflow: str, priority: str, minutes: int
) -> None:
    rec = recommend(spec_status(hooks_ws, spec_id))
    assert (rec.workflow, str(rec.priority), rec.estimate_minutes) == (workflow, priority, minutes)


def test_the_evidence_fixture_through_the_cache(hooks_ws: Workspace) -> None:
    found = [(s.spec_id, recommend(s).workflow) for s in StatusCache(hooks_ws).all()]
    assert found == [(spec, workflow) for spec, workflow, _, _ in EXPECTED]


def test_the_broken_hooks_are_named_from_the_real_verification(hooks_ws: Workspace) -> None:
    # Once the drift is synced (T002 unticked), the broken hooks are next.
    tasks = hooks_ws.root / "specs/spec-e-02-broken-hooks/tasks.md"
    tasks.write_text(tasks.read_text().replace("- [x] T002", "- [ ] T002"))
    rec = recommend(spec_status(hooks_ws, "spec-e-02-broken-hooks"))
    assert rec.workflow == "fix_evidence_hooks" and rec.estimate_minutes == 4
    assert rec.reason == "2 evidence hooks are malformed or point outside the workspace (tasks: T002, T003)"


def test_adding_the_hooks_moves_the_spec_on(hooks_ws: Workspace) -> None:
    tasks = hooks_ws.root / "specs/spec-e-01-no-hooks/tasks.md"
    text = tasks.read_text()
    for title, symbol in [("cart", "add_book"), ("Remove a book from the cart", "remove_book"),
                          ("Show the cart total", "cart_total")]:  # fmt: skip
        line = next(ln for ln in text.splitlines() if ln.endswith(title))
        text = text.replace(line, f"{line}\n  evidence: code path=src/shop/cart.py symbol={symbol}")
    tasks.write_text(text)
    status = spec_status(hooks_ws, "spec-e-01-no-hooks")
    assert status.tasks_without_hooks == 0 and status.tasks_verified == 3
    # T003 was never ticked: now verified, so the drift is synced next.
    assert recommend(status).workflow == "sync_tasks_checkboxes"


# --- in Thai ----------------------------------------------------------------------------------


def test_the_new_reasons_read_in_thai() -> None:
    from django.utils import translation

    from workflows.templatetags.workflow_tags import in_language

    broken = _next(invalid_hooks=7, invalid_hook_tasks=tuple(f"T{i}" for i in range(1, 8))).reason
    one = _next(invalid_hooks=1).reason
    none = _next(tasks_without_hooks=4).reason
    single = _next(tasks_total=1, tasks_without_hooks=1).reason
    with translation.override("th"):
        assert in_language(broken) == (
            "evidence hook 7 รายการเขียนผิดรูปแบบหรือชี้ออกนอกเวิร์กสเปซ (งาน: T1, T2, T3, T4, T5 และอีก 2 รายการ)"
        )
        assert in_language(one) == "evidence hook 1 รายการเขียนผิดรูปแบบหรือชี้ออกนอกเวิร์กสเปซ"
        assert in_language(none).startswith("งานทั้ง 4 รายการยังไม่มี evidence hook เลย")
        assert in_language(single).startswith("งานเดียวของสเปกนี้ยังไม่มี evidence hook")
