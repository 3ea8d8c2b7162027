"""The evidence-hook workflows end to end: the autopilot routes to them, the demo agent (a
real process) performs them, and the agent step refuses edits beyond evidence lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.workflows.engine.conftest import drain, start, template
from workflows.domain.routing import recommend
from workflows.domain.status import spec_status
from workflows.domain.workspace import Workspace
from workflows.models import Project, Run
from workflows.services.runs import run_start
from workflows.services.template_lookups import template_version_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

CART = "spec-feature-004-cart"
CART_TASKS = f"specs/{CART}/tasks.md"
TASK_LINE = re.compile(r"^\s*- \[[ x]\] ")


@pytest.fixture
def demo(data_dir) -> Project:
    call_command("seed_demo", "--no-git")
    return Project.objects.get(slug="demo")


def autopilot(project: Project, spec_id: str, **params: object) -> Run:
    version = template_version_for(project, "autopilot")
    run = run_start(
        project=project, version=version, spec_id=spec_id, params=params, started_by=None, channel="web"
    )
    return drain(run)


def turns(run: Run) -> list[str]:
    return [e.data["autopilot"] for e in run.events.filter(type="step.progress", data__has_key="autopilot")]


def non_hook_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "evidence:" not in line]


def test_the_demo_cart_spec_needs_hooks_not_a_day_of_implementation(demo: Project) -> None:
    rec = recommend(spec_status(Workspace(demo.workspace), CART))
    assert (rec.workflow, str(rec.priority), rec.estimate_minutes) == ("add_evidence_hooks", "high", 6)


def test_the_demo_agent_adds_hooks_that_verify_and_the_loop_goes_on(demo: Project) -> None:
    tasks = Path(demo.workspace) / CART_TASKS
    before = tasks.read_text()
    run = autopilot(demo, CART)
    assert (run.status, run.outcome) == ("succeeded", "done"), run.error
    assert turns(run) == [
        "add_evidence_hooks",
        "sync_tasks_checkboxes",  # T003 was done but never ticked
        "verify_tasks_progress",
        "test_suite_runner",  # the test hooks point at tests/test_cart.py
        "quality_gate",
        "docs_generator",
        "verify_tasks_progress",
        "done",
    ]
    after = tasks.read_text()
    assert "evidence: code path=src/cart/cart.py symbol=add_book" in after
    assert 'evidence: test path=tests/test_cart.py contains="def test_cart_total"' in after
    # Only hooks were added by the agent; the sync then ticked T003 and nothing else.
    assert non_hook_lines(after) == non_hook_lines(before.replace("- [ ] T003", "- [x] T003"))
    status = spec_status(Workspace(demo.workspace), CART)
    assert status.tasks_total == status.tasks_verified == status.tasks_checked == 3
    assert status.tasks_without_hooks == 0 and status.tests_passed

    step = run.steps.get(key="add-evidence-hooks-1")
    assert step.status == "succeeded"
    assert step.output["artefact"] == CART_TASKS
    assert (step.output["tasks_without_hooks_before"], step.output["tasks_without_hooks"]) == (3, 0)
    prompt = (Path(demo.workspace) / step.output["prompt_file"]).read_text()
    assert "## Tasks without evidence hooks (specs/spec-feature-004-cart/tasks.md)" in prompt
    assert "- T003 (line 10): Show the cart total" in prompt


def test_the_demo_agent_fixes_a_broken_hook(demo: Project) -> None:
    tasks = Path(demo.workspace) / "specs/spec-feature-003-catalog/tasks.md"
    tasks.write_text(tasks.read_text().replace("symbol=search", "symbl=search"))
    assert recommend(spec_status(Workspace(demo.workspace), "spec-feature-003-catalog")).workflow == (
        "fix_evidence_hooks"
    )
    run = autopilot(demo, "spec-feature-003-catalog", max_iterations=1)
    # One turn was allowed and the spec is not done after it: stopped at the limit.
    assert (run.status, run.outcome) == ("stopped", "max_iterations"), run.error
    assert turns(run) == ["fix_evidence_hooks"]
    step = run.steps.get(key="fix-evidence-hooks-1")
    assert (step.output["invalid_hooks_before"], step.output["invalid_hooks"]) == (1, 0)
    prompt = (Path(demo.workspace) / step.output["prompt_file"]).read_text()
    assert "- line 9, task T002: `evidence: code path=src/catalog/books.py symbl=search`" in prompt
    assert "evidence: code path=src/catalog/books.py symbol=search" in tasks.read_text()
    status = spec_status(Workspace(demo.workspace), "spec-feature-003-catalog")
    assert status.invalid_hooks == 0 and status.tasks_verified == 2


def test_an_agent_that_ticks_a_box_is_undone_and_fails(demo: Project) -> None:
    script = (
        "import pathlib; p = pathlib.Path('" + CART_TASKS + "'); "
        "p.write_text(p.read_text().replace('- [ ] T003', '- [x] T003'))"
    )
    Project.objects.filter(pk=demo.pk).update(agent_command=f'python -c "{script}"')
    tasks = Path(demo.workspace) / CART_TASKS
    before = tasks.read_text()
    run = autopilot(demo, CART, max_iterations=1)
    assert run.status == "failed"
    assert "may only change evidence lines" in run.error
    assert "'- [ ] T003 Show the cart total' into '- [x] T003 Show the cart total'" in run.error
    assert tasks.read_text() == before  # undone
    refused = next((Path(demo.workspace) / ".spec/reports/add-evidence-hooks").rglob("*-refused-tasks.md"))
    assert "- [x] T003" in refused.read_text()


def test_an_agent_that_adds_no_hook_fails_instead_of_looping(demo: Project) -> None:
    Project.objects.filter(pk=demo.pk).update(agent_command="python -c 'pass'")
    run = autopilot(demo, CART)
    assert run.status == "failed"
    assert turns(run) == ["add_evidence_hooks"]
    assert "the agent added no evidence hook (3 tasks still have none)" in run.error


def test_through_a_chat_endpoint_the_answer_is_the_new_tasks_md(demo: Project, monkeypatch) -> None:
    from workflows.engine.executors import agent

    tasks = Path(demo.workspace) / CART_TASKS
    hooked = tasks.read_text().replace(
        "- [x] T001 Add a book to the cart\n",
        "- [x] T001 Add a book to the cart\n  evidence: code path=src/cart/cart.py symbol=add_book\n",
    )
    ticked = hooked.replace(
        "- [x] T002 Remove a book from the cart\n",
        "- [x] T002 Remove a book from the cart\n  evidence: code path=src/cart/cart.py symbol=remove_book\n",
    ).replace("- [ ] T003", "- [x] T003")
    answers = iter([f"```markdown\n{hooked}```\n", ticked])
    monkeypatch.setattr(agent, "_stream_chat", lambda *args: next(answers))
    Project.objects.filter(pk=demo.pk).update(agent_command="", agent_endpoint="http://127.0.0.1:9/v1")

    run = autopilot(demo, CART, max_iterations=1)
    assert (run.status, run.outcome) == ("stopped", "max_iterations"), run.error
    assert turns(run) == ["add_evidence_hooks"]
    assert tasks.read_text() == hooked
    assert run.steps.get(key="add-evidence-hooks-1").output["tasks_without_hooks"] == 2

    # An agent step in a template of its own; this answer also ticks a box: refused.
    steps = [{"id": "hooks", "uses": "agent", "with": {"workflow": "add_evidence_hooks"}}]
    run = drain(
        start(Project.objects.get(pk=demo.pk), template(name="hooks-only", steps=steps), spec_id=CART)
    )
    assert run.status == "failed" and "may only change evidence lines" in run.error
    assert tasks.read_text() == hooked
