"""Every row of the routing table has its own test, first on a status built by hand, then
on the routing fixture workspace where each spec sits in one row."""

from __future__ import annotations

import pytest

from workflows.domain.routing import RULES, Priority, Recommendation, recommend
from workflows.domain.status import SpecStatus, StatusCache, spec_status
from workflows.domain.workspace import Workspace

from .conftest import BASIC_SPEC


def _done(**changes: object) -> SpecStatus:
    """A spec at the end of the loop; each test breaks exactly the row it is about."""
    base: dict[str, object] = dict(
        spec_id="spec-x-001", category=None, path="specs/spec-x-001", has_spec=True,
        has_plan=True, has_tasks=True, docs_present=True, tasks_total=4, tasks_checked=4,
        tasks_verified=4, checked_not_verified=(), verified_not_checked=(), invalid_hooks=0,
        tests_present=True, tests_passed=True, quality_gate_passed=True,
        verified_since_last_change=True, last_verify_run="r1",
    )  # fmt: skip
    return SpecStatus(**{**base, **changes})  # type: ignore[arg-type]


def _next(**changes: object) -> Recommendation:
    return recommend(_done(**changes))


def test_row_no_spec_md_generates_the_spec() -> None:
    rec = _next(has_spec=False, has_plan=False, has_tasks=False, tasks_total=0)
    assert (rec.workflow, rec.priority, rec.estimate_minutes) == (
        "generate_spec",
        Priority.HIGH,
        30,
    )
    assert rec.reason == "spec.md is missing"


def test_row_no_plan_md_generates_the_plan() -> None:
    rec = _next(has_plan=False)
    assert (rec.workflow, rec.priority, rec.estimate_minutes) == (
        "generate_plan",
        Priority.HIGH,
        20,
    )


def test_row_no_tasks_md_generates_tasks() -> None:
    rec = _next(has_tasks=False, tasks_total=0, tasks_checked=0, tasks_verified=0)
    assert (rec.workflow, rec.priority, rec.estimate_minutes) == (
        "generate_tasks",
        Priority.HIGH,
        15,
    )


def test_a_tasks_md_without_tasks_also_generates_tasks() -> None:
    rec = _next(tasks_total=0, tasks_checked=0, tasks_verified=0)
    assert rec.workflow == "generate_tasks" and rec.reason == "tasks.md lists no tasks"


def test_row_no_task_done_implements_at_20_minutes_per_task() -> None:
    rec = _next(tasks_total=5, tasks_checked=0, tasks_verified=0)
    assert (rec.workflow, rec.priority, rec.estimate_minutes) == (
        "implement_tasks",
        Priority.HIGH,
        100,
    )
    assert rec.reason == "none of the 5 tasks is verified yet"


def test_no_task_done_comes_before_drift() -> None:
    rec = _next(tasks_total=2, tasks_checked=2, tasks_verified=0, checked_not_verified=("T1", "T2"))
    assert rec.workflow == "implement_tasks" and rec.estimate_minutes == 40


def test_row_checkbox_drift_syncs_the_checkboxes() -> None:
    rec = _next(tasks_verified=3, checked_not_verified=("T4",), verified_not_checked=("T2",))
    assert (rec.workflow, rec.priority, rec.estimate_minutes) == (
        "sync_tasks_checkboxes", Priority.HIGH, 2,
    )  # fmt: skip
    assert rec.reason == ("checkbox drift (checked but not verified: T4; verified but not checked: T2)")


def test_row_some_tasks_left_implements_the_remaining_ones() -> None:
    rec = _next(tasks_total=5, tasks_checked=2, tasks_verified=2)
    assert (rec.workflow, rec.priority, rec.estimate_minutes) == (
        "implement_tasks",
        Priority.HIGH,
        60,
    )
    assert rec.reason == "3 of 5 tasks are not verified yet"


def test_row_all_done_but_not_verified_since_the_last_change() -> None:
    rec = _next(verified_since_last_change=False)
    assert (rec.workflow, rec.priority, rec.estimate_minutes) == (
        "verify_tasks_progress", Priority.HIGH, 2,
    )  # fmt: skip
    never = _next(verified_since_last_change=False, last_verify_run=None)
    assert never.reason == "all tasks are verified, but no verify report has been written"


def test_row_no_tests_generates_tests() -> None:
    rec = _next(tests_present=False, tests_passed=None)
    assert (rec.workflow, rec.priority, rec.estimate_minutes) == (
        "generate_tests",
        Priority.NORMAL,
        30,
    )


@pytest.mark.parametrize(("passed", "reason"), [(False, "the last test run failed"),
                                                 (None, "tests have not run")])  # fmt: skip
def test_row_tests_not_passed_runs_the_suite(passed: bool | None, reason: str) -> None:
    rec = _next(tests_passed=passed)
    assert (rec.workflow, rec.priority, rec.estimate_minutes) == (
        "test_suite_runner", Priority.NORMAL, 10,
    )  # fmt: skip
    assert rec.reason == reason


@pytest.mark.parametrize("passed", [False, None])
def test_row_quality_gate_not_passed_runs_the_gate(passed: bool | None) -> None:
    rec = _next(quality_gate_passed=passed)
    assert (rec.workflow, rec.priority, rec.estimate_minutes) == (
        "quality_gate",
        Priority.NORMAL,
        5,
    )


def test_row_no_readme_generates_docs() -> None:
    rec = _next(docs_present=False)
    assert (rec.workflow, rec.priority, rec.estimate_minutes) == (
        "docs_generator",
        Priority.LOW,
        15,
    )


def test_row_otherwise_done() -> None:
    rec = _next()
    assert (rec.workflow, rec.priority, rec.estimate_minutes, rec.done) == (
        "done", Priority.NONE, 0, True,
    )  # fmt: skip
    assert rec.as_dict() == {
        "workflow": "done",
        "reason": "everything is verified, tested, gated and documented",
        "priority": "none",
        "estimate_minutes": 0,
    }


def test_the_rules_keep_the_order_of_the_table() -> None:
    # PRODUCT.md's rows in their order, with the evidence-hook rows where routing.py's
    # docstring says why (test_routing_evidence.py tests them).
    assert [r.__name__ for r in RULES] == [
        "_missing_files", "_no_hooks", "_only_broken_hooks", "_nothing_done", "_drift",
        "_broken_hooks", "_tasks_left", "_stale_verification", "_tests", "_quality_gate", "_docs",
    ]  # fmt: skip


# --- on real workspaces ----------------------------------------------------------------------


def test_the_sample_workspace_routes_as_documented(basic_ws: Workspace) -> None:
    # Drift first (PRODUCT.md's order); its two broken hooks (T008, T009) come next.
    assert recommend(spec_status(basic_ws, BASIC_SPEC)).workflow == "sync_tasks_checkboxes"
    assert recommend(spec_status(basic_ws, "spec-feature-002-orders")).workflow == "generate_plan"


ROUTING_EXPECTED = [
    ("spec-r-01-no-spec", "generate_spec", "high", 30),
    ("spec-r-02-no-plan", "generate_plan", "high", 20),
    ("spec-r-03-no-tasks", "generate_tasks", "high", 15),
    ("spec-r-04-nothing-done", "implement_tasks", "high", 40),
    ("spec-r-05-drift", "sync_tasks_checkboxes", "high", 2),
    ("spec-r-06-tasks-left", "implement_tasks", "high", 40),
    ("spec-r-07-stale", "verify_tasks_progress", "high", 2),
    ("spec-r-08-no-tests", "generate_tests", "normal", 30),
    ("spec-r-09-tests-failed", "test_suite_runner", "normal", 10),
    ("spec-r-10-gate-failed", "quality_gate", "normal", 5),
    ("spec-r-11-no-readme", "docs_generator", "low", 15),
    ("spec-r-12-done", "done", "none", 0),
]


@pytest.mark.parametrize(("spec_id", "workflow", "priority", "minutes"), ROUTING_EXPECTED)
def test_each_spec_of_the_routing_fixture(
    routing_ws: Workspace, spec_id: str, workflow: str, priority: str, minutes: int
) -> None:
    rec = recommend(spec_status(routing_ws, spec_id))
    assert (rec.workflow, str(rec.priority), rec.estimate_minutes) == (workflow, priority, minutes)


def test_the_routing_fixture_through_the_cache(routing_ws: Workspace) -> None:
    found = [(s.spec_id, recommend(s).workflow) for s in StatusCache(routing_ws).all()]
    assert found == [(spec, workflow) for spec, workflow, _, _ in ROUTING_EXPECTED]
