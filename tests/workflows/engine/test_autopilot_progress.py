"""The autopilot stops when it cannot progress, and a run ends succeeded only at its goal.

Real steps run in this process as a worker runs them, and the demo agent is a real
process (workflows/demo/demo_agent.py); nothing of ours is mocked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from tests.workflows.engine.conftest import drain
from workflows.models import Project, Run
from workflows.services.manual_checks import manual_check_record
from workflows.services.runs import run_cancel, run_start
from workflows.services.template_lookups import template_version_for
from workflows.specs import project_spec

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

AUTH = "spec-core-001-authentication"
AUTH_TASKS = "specs/core/spec-core-001-authentication/tasks.md"


@pytest.fixture
def demo(data_dir) -> Project:
    call_command("seed_demo", "--no-git")
    return Project.objects.get(slug="demo")


def start(project: Project, spec_id: str = AUTH, user=None, **params) -> Run:
    version = template_version_for(project, "autopilot")
    return run_start(
        project=project, version=version, spec_id=spec_id, params=params, started_by=user, channel="web"
    )


def turns(run: Run) -> list[str]:
    return [e.data["autopilot"] for e in run.events.filter(type="step.progress", data__has_key="autopilot")]


def fingerprints(run: Run) -> dict[int, str]:
    found = {}
    for step in run.steps.filter(kind="status"):
        progress = step.output.get("progress") or {}
        found[int(step.config["autopilot_turn"])] = progress.get("fingerprint", "")
    return found


def assert_no_agent_repeat_without_change(run: Run) -> None:
    """The same agent workflow is never sent in two turns in a row unless the state moved."""
    sent = {int(e.data["turn"]): e.data["autopilot"] for e in run.events.filter(data__has_key="added")}
    prints = fingerprints(run)
    agent = {
        "implement_tasks",
        "generate_tests",
        "docs_generator",
        "add_evidence_hooks",
        "fix_evidence_hooks",
    }
    for turn, workflow in sent.items():
        if workflow in agent and sent.get(turn + 1) == workflow:
            assert prints[turn] != prints[turn + 1], (
                f"{workflow} sent again at turn {turn + 1} without a change"
            )


def test_a_task_only_a_person_can_check_stops_the_demo_autopilot(demo: Project) -> None:
    run = drain(start(demo))
    assert (run.status, run.outcome) == ("stopped", "needs_manual")
    assert "TSK-AUTH-006 needs a manual check" in run.outcome_reason
    # The run took the whole 12 turns; this one stops as soon as only the ui task is left.
    assert run.iterations == 4 < 12
    assert turns(run) == ["sync_tasks_checkboxes", "implement_tasks", "sync_tasks_checkboxes"]
    # It stopped before sending work to the agent: no implement step after the last status.
    assert not run.steps.filter(key="implement-tasks-4").exists()
    assert_no_agent_repeat_without_change(run)
    stop = run.events.get(type="step.progress", data__has_key="autopilot_stop")
    assert stop.data["autopilot_stop"] == "needs_manual" and stop.data["workflow"] == "implement_tasks"
    finished = run.events.get(type="run.stopped")
    assert finished.data["outcome"] == "needs_manual"
    assert finished.data["reason"] == run.outcome_reason
    # The spec is honestly not done: 5 of 6 verified.
    detail, recommendation = project_spec(demo, AUTH)
    assert (detail.status.tasks_verified, detail.status.tasks_total) == (5, 6)
    assert recommendation.workflow == "implement_tasks"


def test_after_the_manual_check_the_autopilot_reaches_done(demo: Project) -> None:
    member = User.objects.get(username="demo-member")
    drain(start(demo, user=member))
    manual_check_record(
        project=demo, spec_id=AUTH, task_id="TSK-AUTH-006", note="loading, error and success look right",
        by=member, channel="web",
    )  # fmt: skip
    detail, _ = project_spec(demo, AUTH)  # the status cache sees the check at once
    task = next(t for t in detail.verification.tasks if t.id == "TSK-AUTH-006")
    assert task.status == "verified"
    assert task.reasons[0].startswith("manual check: checked by demo-member on ")
    assert task.reasons[0].endswith(": loading, error and success look right")

    run = drain(start(demo, user=member))
    assert (run.status, run.outcome) == ("succeeded", "done"), run.outcome_reason
    assert turns(run) == [
        "sync_tasks_checkboxes",  # TSK-AUTH-006 is verified now, so its box is ticked
        "verify_tasks_progress",
        "test_suite_runner",
        "quality_gate",
        "docs_generator",
        "verify_tasks_progress",
        "done",
    ]
    assert_no_agent_repeat_without_change(run)
    assert "- [x] TSK-AUTH-006" in (Path(demo.workspace) / AUTH_TASKS).read_text()
    detail, recommendation = project_spec(demo, AUTH)
    assert detail.status.tasks_verified == detail.status.tasks_total == 6
    assert recommendation.workflow == "done"


def test_a_changed_task_needs_its_manual_check_again(demo: Project) -> None:
    member = User.objects.get(username="demo-member")
    manual_check_record(project=demo, spec_id=AUTH, task_id="TSK-AUTH-006", note="", by=member, channel="web")
    tasks = Path(demo.workspace) / AUTH_TASKS
    tasks.write_text(tasks.read_text().replace("states=loading,error,success", "states=loading,error"))
    detail, _ = project_spec(demo, AUTH)
    task = next(t for t in detail.verification.tasks if t.id == "TSK-AUTH-006")
    assert task.status == "needs_manual"
    assert task.reasons[0].startswith("the manual check is out of date: the task or its hooks changed since")


def test_an_agent_that_changes_nothing_stops_the_run_for_no_progress(demo: Project) -> None:
    Project.objects.filter(pk=demo.pk).update(agent_command="python -c 'pass'")
    run = drain(start(demo))
    assert (run.status, run.outcome) == ("stopped", "no_progress")
    assert turns(run) == ["sync_tasks_checkboxes", "implement_tasks"]
    assert run.outcome_reason.startswith("stopped: no progress on TSK-AUTH-003, TSK-AUTH-005, TSK-AUTH-006")
    assert "TSK-AUTH-006 (needs a manual check)" in run.outcome_reason
    assert "turn 2 (implement_tasks) changed nothing" in run.outcome_reason
    assert run.steps.filter(kind="agent").count() == 1  # never sent twice without a change


def test_the_turn_limit_stops_the_run(demo: Project) -> None:
    run = drain(start(demo, max_iterations=2))
    assert (run.status, run.outcome) == ("stopped", "max_iterations")
    assert turns(run) == ["sync_tasks_checkboxes", "implement_tasks"]
    assert run.outcome_reason.startswith("stopped: the turn limit (2) was reached before the spec was done")


def test_a_cancelled_run_says_who_cancelled_it(demo: Project) -> None:
    admin = User.objects.get(username="demo-admin")
    run = start(demo, user=admin)
    run = run_cancel(run=run, by=admin, channel="web")
    run.refresh_from_db()
    assert (run.status, run.outcome, run.outcome_reason) == (
        "cancelled",
        "cancelled",
        "cancelled by demo-admin",
    )
    event = run.events.get(type="run.cancelled")
    assert event.data["outcome"] == "cancelled" and event.data["reason"] == "cancelled by demo-admin"


def test_the_one_turn_development_loop_succeeds_after_its_turn(demo: Project) -> None:
    version = template_version_for(demo, "development-loop")
    run = drain(run_start(project=demo, version=version, spec_id=AUTH, started_by=None, channel="web"))
    assert (run.status, run.outcome) == ("succeeded", "steps_passed")
    assert run.outcome_reason.startswith("the turn ran; the next step is ")
    assert run.events.get(type="run.succeeded").data["outcome"] == "steps_passed"


def test_a_plain_workflow_succeeds_when_its_steps_passed_and_fails_with_its_reason(demo: Project) -> None:
    from tests.workflows.engine.conftest import start as start_template
    from tests.workflows.engine.conftest import template

    ok = drain(start_template(demo, template(name="plain", steps=[{"id": "a", "uses": "noop"}])))
    assert (ok.status, ok.outcome, ok.outcome_reason) == ("succeeded", "steps_passed", "every step passed")
    bad = drain(
        start_template(
            demo, template(name="plain-bad", steps=[{"id": "a", "uses": "noop", "with": {"fail": True}}])
        )
    )
    assert (bad.status, bad.outcome) == ("failed", "failed")
    assert bad.outcome_reason == "failed: step a: failed on purpose"
    assert bad.events.get(type="run.failed").data["reason"] == bad.outcome_reason
