from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from tests.workflows.engine.conftest import drain
from workflows.domain.status import spec_status
from workflows.domain.workspace import Workspace
from workflows.models import ApprovalGate, Project, Run, WorkflowTemplate
from workflows.services.approvals import approval_decide
from workflows.services.runs import run_start
from workflows.services.template_lookups import template_version_for, templates_runnable_in

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def demo(data_dir) -> Project:
    call_command("seed_demo", "--no-git")
    return Project.objects.get(slug="demo")


def autopilot(project: Project, spec_id: str, user=None, **params) -> Run:
    run = run_start(
        project=project,
        version=template_version_for(project, "autopilot"),
        spec_id=spec_id,
        params=params,
        started_by=user,
        channel="web",
    )
    return drain(run)


def turns(run: Run) -> list[str]:
    return [e.data["autopilot"] for e in run.events.filter(type="step.progress", data__has_key="autopilot")]


def test_the_builtin_templates_are_installed_by_the_first_lookup_not_by_migrate(demo):
    # These tests are transactional: the flush before this one emptied every table, and
    # nothing puts the built-ins back until something looks templates up.
    assert not WorkflowTemplate.objects.exists()
    names = set(templates_runnable_in(demo).filter(builtin=True).values_list("name", flat=True))
    assert {"autopilot", "development-loop", "verify-and-sync"} <= names


def test_the_autopilot_takes_a_new_spec_round_the_whole_loop_with_the_demo_agent(demo):
    run = autopilot(demo, "spec-feature-009-wishlist")
    assert (run.status, run.outcome) == ("succeeded", "done"), run.error
    assert turns(run) == [
        "generate_spec",
        "generate_plan",
        "generate_tasks",
        "implement_tasks",
        "sync_tasks_checkboxes",
        "verify_tasks_progress",
        "generate_tests",
        "test_suite_runner",
        "quality_gate",
        "docs_generator",
        # README.md is a spec file: the verification is fresh again only after one more look.
        "verify_tasks_progress",
        "done",
    ]
    status = spec_status(Workspace(demo.workspace), "spec-feature-009-wishlist")
    assert status.tasks_total == status.tasks_verified == status.tasks_checked == 3
    assert status.tests_passed and status.quality_gate_passed and status.docs_present


def test_the_autopilot_stops_after_max_iterations(demo):
    run = autopilot(demo, "spec-feature-010-reviews", max_iterations=2)
    # The limit was reached before the spec was done: stopped, not succeeded.
    assert (run.status, run.outcome) == ("stopped", "max_iterations")
    assert "turn limit (2)" in run.outcome_reason and "generate_tasks" in run.outcome_reason
    assert turns(run) == ["generate_spec", "generate_plan"]
    assert run.iterations == 2
    finished = run.events.get(type="run.stopped")
    assert finished.data["outcome"] == "max_iterations" and finished.data["reason"] == run.outcome_reason
    assert not (Path(demo.workspace) / "specs/spec-feature-010-reviews/tasks.md").exists()


def test_supervised_mode_puts_an_approval_before_every_agent_step(demo):
    from django.contrib.auth.models import User

    approver = User.objects.get(username="demo-approver")
    member = User.objects.get(username="demo-member")
    run = autopilot(demo, "spec-feature-011-gifts", member, mode="supervised", max_iterations=1)
    assert run.status == "waiting"
    gate = ApprovalGate.objects.get(run=run)
    assert "generate_spec" in gate.title
    approval_decide(gate=gate, user=approver, verdict="approve", channel="web")
    run = drain(run)
    # One turn of a twelve-turn autopilot was allowed: it stopped at the limit.
    assert (run.status, run.outcome) == ("stopped", "max_iterations")
    assert (Path(demo.workspace) / "specs/spec-feature-011-gifts/spec.md").exists()


def test_the_development_loop_takes_one_turn_on_the_demo_spec_with_drift(demo):
    run = run_start(
        project=demo,
        version=template_version_for(demo, "development-loop"),
        spec_id="spec-core-001-authentication",
        started_by=None,
        channel="web",
    )
    run = drain(run)
    # The development loop's goal is its one turn.
    assert (run.status, run.outcome) == ("succeeded", "steps_passed"), run.error
    assert turns(run) == ["sync_tasks_checkboxes"]
    tasks = (Path(demo.workspace) / "specs/core/spec-core-001-authentication/tasks.md").read_text()
    assert "- [ ] TSK-AUTH-003" in tasks and "- [x] TSK-AUTH-004" in tasks


def test_a_failing_agent_fails_the_run_with_its_reason(demo):
    Project.objects.filter(pk=demo.pk).update(agent_command="python -c 'import sys; sys.exit(3)'")
    run = autopilot(demo, "spec-feature-012-broken")
    assert run.status == "failed"
    assert "exited with status 3" in run.error


def test_bad_autopilot_params_are_refused_before_anything_runs(demo):
    with pytest.raises(ValueError, match="max_iterations"):
        run_start(
            project=demo,
            version=template_version_for(demo, "autopilot"),
            spec_id="spec-x",
            params={"max_iterations": 0},
            started_by=None,
            channel="web",
        )
    assert not Run.objects.exists()
