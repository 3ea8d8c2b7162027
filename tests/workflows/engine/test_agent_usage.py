"""Usage of agent steps: recorded per attempt, added up per run, spec and project; budgets
stop a run before the next agent step."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.workflows.engine.conftest import drain, start, statuses, template
from workflows.models import AgentUsage, Project

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

AGENT = Path(__file__).parent / "agents" / "usage_agent.py"
SPEC = "spec-feature-002-orders"


def use_agent(project: Project, cost: str) -> Path:
    """Point the project at the stand-in agent; returns the file it counts its calls in."""
    calls = project.workspace_path / "agent-calls.txt"
    Project.objects.filter(pk=project.pk).update(
        agent_command=f"python {AGENT} {{workspace}}/agent-calls.txt {cost}"
    )
    return calls


def agents(n: int) -> str:
    steps = [{"id": "a1", "uses": "agent", "with": {"workflow": "implement_tasks"}}] + [
        {"id": f"a{i}", "uses": "agent", "needs": [f"a{i - 1}"], "with": {"workflow": "implement_tasks"}}
        for i in range(2, n + 1)
    ]
    return template(name=f"agents-{n}", steps=steps)


def calls_of(calls: Path) -> int:
    return len(calls.read_text().splitlines()) if calls.exists() else 0


def test_a_command_agents_usage_lines_are_recorded_and_added_up(project):
    use_agent(project, "0.25")
    run = drain(start(project, agents(2), spec_id=SPEC))
    assert run.status == "succeeded", run.error
    rows = list(AgentUsage.objects.filter(run=run).order_by("pk"))
    assert [(u.input_tokens, u.output_tokens, u.cost, u.reported) for u in rows] == [
        (1200, 300, Decimal("0.25"), True),
        (1200, 300, Decimal("0.25"), True),
    ]
    assert all(u.seconds > 0 and u.spec_id == SPEC for u in rows)
    totals = AgentUsage.objects.for_run(run).totals()
    assert (totals["input_tokens"], totals["output_tokens"], totals["cost"]) == (2400, 600, Decimal("0.5"))
    # A second run on the same spec adds to the spec's and the project's totals.
    drain(start(project, agents(1), spec_id=SPEC))
    assert AgentUsage.objects.for_spec(project, SPEC).totals()["cost"] == Decimal("0.75")
    assert AgentUsage.objects.for_project(project).this_month().totals()["input_tokens"] == 3600
    assert AgentUsage.objects.for_spec(project, "spec-other").totals()["steps"] == 0


def test_an_agent_that_reports_nothing_still_has_its_time_recorded(project):
    use_agent(project, "silent")
    run = drain(start(project, agents(1), spec_id=SPEC))
    usage = AgentUsage.objects.get(run=run)
    assert usage.seconds > 0 and not usage.reported
    assert (usage.input_tokens, usage.output_tokens, usage.cost) == (0, 0, None)
    assert AgentUsage.objects.for_run(run).totals()["cost"] is None


def test_without_a_reported_cost_the_projects_prices_give_one(project):
    use_agent(project, "none")
    Project.objects.filter(pk=project.pk).update(
        price_input_per_mtok=Decimal("3"), price_output_per_mtok=Decimal("15")
    )
    run = drain(start(project, agents(1), spec_id=SPEC))
    # 1200 × $3 / M + 300 × $15 / M
    assert AgentUsage.objects.get(run=run).cost == Decimal("0.0081")


def test_a_failed_agent_attempt_is_recorded_too(project):
    Project.objects.filter(pk=project.pk).update(agent_command="python -c 'import sys; sys.exit(3)'")
    run = drain(start(project, agents(1), spec_id=SPEC))
    assert run.status == "failed"
    usage = AgentUsage.objects.get(run=run)
    assert usage.seconds > 0 and usage.cost is None


def test_a_run_budget_of_n_stops_the_run_before_the_next_agent_step(project):
    calls = use_agent(project, "0.30")
    Project.objects.filter(pk=project.pk).update(budget_per_run=Decimal("0.50"))
    run = drain(start(project, agents(4), spec_id=SPEC))
    # $0.30 spent: under $0.50, so a2 runs; $0.60 ≥ $0.50, so a3 never calls the agent.
    assert (run.status, run.outcome) == ("stopped", "budget")
    assert calls_of(calls) == 2
    assert statuses(run) == {"a1": "succeeded", "a2": "succeeded", "a3": "cancelled", "a4": "cancelled"}
    assert run.outcome_reason == (
        "stopped: the run's budget of $0.50 is spent ($0.60 so far); raise it on the project page to go on"
    )
    assert run.outcome_text["template"].startswith("stopped: the run's budget of {budget}")
    event = run.events.get(type="run.stopped")
    assert event.data["outcome"] == "budget"
    assert AgentUsage.objects.for_run(run).count() == 2


def test_a_monthly_budget_counts_every_run_of_the_project(project):
    calls = use_agent(project, "0.40")
    Project.objects.filter(pk=project.pk).update(budget_per_month=Decimal("1"))
    first = drain(start(project, agents(2), spec_id=SPEC))
    assert first.status == "succeeded"
    second = drain(start(project, agents(2), spec_id=SPEC, allow_concurrent=True))
    # $0.80 before it, $1.20 after its first step: the second step does not run.
    assert (second.status, second.outcome) == ("stopped", "budget")
    assert "monthly budget of $1.00 is spent ($1.20 this month)" in second.outcome_reason
    assert calls_of(calls) == 3
    third = drain(start(project, agents(1), spec_id=SPEC, allow_concurrent=True))
    assert (third.status, third.outcome) == ("stopped", "budget") and calls_of(calls) == 3


def test_without_a_budget_nothing_stops(project):
    calls = use_agent(project, "5")
    run = drain(start(project, agents(3), spec_id=SPEC))
    assert run.status == "succeeded" and calls_of(calls) == 3


def test_the_autopilot_stops_before_the_agent_step_the_budget_does_not_cover(data_dir):
    from django.core.management import call_command

    from workflows.management.commands.seed_demo import DEMO_AGENT_COMMAND
    from workflows.services.template_lookups import template_version_for

    call_command("seed_demo", "--no-git")
    demo = Project.objects.get(slug="demo")
    calls = demo.workspace_path / "agent-calls.txt"
    Project.objects.filter(pk=demo.pk).update(
        agent_command=f"python {AGENT} {{workspace}}/agent-calls.txt 0.30 -- {DEMO_AGENT_COMMAND} --pause 0",
        budget_per_run=Decimal("0.5"),
    )
    run = drain(start(demo, template_version_for(demo, "autopilot"), spec_id="spec-feature-013-budget"))
    assert (run.status, run.outcome) == ("stopped", "budget"), run.outcome_reason
    # generate_spec ($0.30) and generate_plan ($0.60) ran; generate_tasks was not sent.
    assert calls_of(calls) == 2
    # The autopilot saw the spent budget before it added the turn: no step was made for it.
    assert "generate-tasks-3" not in statuses(run)
    assert (demo.workspace_path / "specs/spec-feature-013-budget/plan.md").exists()
    assert not (demo.workspace_path / "specs/spec-feature-013-budget/tasks.md").exists()
    assert "budget of $0.50 is spent ($0.60 so far)" in run.outcome_reason


def test_an_endpoints_streamed_usage_is_recorded_per_step(project):
    from tests.workflows.engine.chat_server import chat_server

    with chat_server() as server:
        Project.objects.filter(pk=project.pk).update(
            agent_endpoint=server.url, agent_model="m", price_input_per_mtok=Decimal("2")
        )
        run = drain(start(project, agents(2), spec_id=SPEC))
        server.usage = {"prompt_tokens": 10, "completion_tokens": 5, "cost": 0.02}
        priced_by_server = drain(start(project, agents(1), spec_id=SPEC, allow_concurrent=True))
    assert run.status == "succeeded", run.error
    assert server.requests[0]["path"] == "/v1/chat/completions"
    assert server.requests[0]["body"]["stream_options"] == {"include_usage": True}
    rows = list(AgentUsage.objects.filter(run=run))
    assert [(u.input_tokens, u.output_tokens, u.reported) for u in rows] == [(1500, 400, True)] * 2
    # Only the input price is set: output tokens have no price, so the cost is unknown.
    assert [u.cost for u in rows] == [None, None]
    assert run.steps.get(key="a1").output["usage"]["input_tokens"] == 1500
    usage = AgentUsage.objects.get(run=priced_by_server)
    assert (usage.input_tokens, usage.output_tokens, usage.cost) == (10, 5, Decimal("0.02"))


def test_an_endpoint_that_sends_no_usage_leaves_the_cost_unknown(project):
    from tests.workflows.engine.chat_server import chat_server

    with chat_server() as server:
        server.usage = None
        Project.objects.filter(pk=project.pk).update(agent_endpoint=server.url)
        run = drain(start(project, agents(1), spec_id=SPEC))
    assert run.status == "succeeded", run.error
    usage = AgentUsage.objects.get(run=run)
    assert (usage.reported, usage.cost, usage.input_tokens) == (False, None, 0) and usage.seconds > 0


def test_the_budget_covers_the_branches_of_a_fan_out(project):
    calls = use_agent(project, "0.30")
    Project.objects.filter(pk=project.pk).update(budget_per_run=Decimal("0.5"))
    steps = [
        {
            "id": "each",
            "uses": "agent",
            "for_each": ["T1", "T2", "T3", "T4"],
            "with": {"workflow": "implement_tasks"},
        },
        {"id": "after", "uses": "noop", "needs": ["each"]},
    ]
    run = drain(start(project, template(name="fan-agents", max_parallel=1, steps=steps), spec_id=SPEC))
    assert (run.status, run.outcome) == ("stopped", "budget")
    assert calls_of(calls) == 2
    branches = dict(run.steps.filter(parent__isnull=False).values_list("key", "status"))
    assert sorted(branches.values()) == ["cancelled", "cancelled", "succeeded", "succeeded"]
    assert statuses(run)["after"] == "cancelled"


def test_a_spent_budget_stops_a_supervised_autopilot_before_it_asks_for_an_approval(data_dir):
    from django.core.management import call_command

    from workflows.management.commands.seed_demo import DEMO_AGENT_COMMAND
    from workflows.models import ApprovalGate
    from workflows.services.template_lookups import template_version_for

    call_command("seed_demo", "--no-git")
    demo = Project.objects.get(slug="demo")
    calls = demo.workspace_path / "agent-calls.txt"
    Project.objects.filter(pk=demo.pk).update(
        agent_command=f"python {AGENT} {{workspace}}/agent-calls.txt 0.30 -- {DEMO_AGENT_COMMAND} --pause 0",
        budget_per_run=Decimal("0"),
    )
    run = drain(
        start(
            demo,
            template_version_for(demo, "autopilot"),
            spec_id="spec-feature-014-nothing",
            params={"mode": "supervised"},
        )
    )
    assert (run.status, run.outcome) == ("stopped", "budget"), run.outcome_reason
    assert "budget of $0.00 is spent" in run.outcome_reason
    assert not ApprovalGate.objects.filter(run=run).exists()  # nobody was asked to approve
    assert calls_of(calls) == 0
    assert list(statuses(run)) == ["status-1"]
