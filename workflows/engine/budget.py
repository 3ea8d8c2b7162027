"""Agent budgets: what a run, and a project in a month, may spend on agent steps.

Checked in one place, by the worker right before it runs an agent step (a template's, the
autopilot's, or a fan-out branch's). The cost of the step about to run is not known
beforehand, so "would exceed" means: what was already spent has reached the budget
(spent ≥ budget). A run may therefore end a little over its budget, by at most the cost
of the agent steps that were already running. Costs that are unknown (no cost reported,
no prices set) count as nothing.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from workflows.domain.texts import Text
from workflows.engine.gates import gate_cancel_for_step
from workflows.engine.scheduler import run_set_status, step_set_status
from workflows.engine.usage import Usage, priced, usd
from workflows.models import AgentUsage, Project, Run, Step

S = Step.Status


def budget_reached(spent: Decimal | None, budget: Decimal | None) -> bool:
    """Whether a budget stops the next agent step: what was spent reached it (None: none)."""
    return budget is not None and (spent or Decimal(0)) >= budget


def budget_spent(run: Run) -> Text | None:
    """Why the run may not start another agent step, or None when it may."""
    limits = Project.objects.filter(pk=run.project_id).values("budget_per_run", "budget_per_month").first()
    if limits is None:
        return None
    per_run: Decimal | None = limits["budget_per_run"]
    if per_run is not None:
        spent = AgentUsage.objects.for_run(run.pk).spent()
        if budget_reached(spent, per_run):
            return Text(
                "stopped: the run's budget of {budget} is spent ({spent} so far); "
                "raise it on the project page to go on",
                budget=usd(per_run),
                spent=usd(spent),
            )
    per_month: Decimal | None = limits["budget_per_month"]
    if per_month is not None:
        spent = AgentUsage.objects.for_project(run.project_id).this_month().spent()
        if budget_reached(spent, per_month):
            return Text(
                "stopped: the project's monthly budget of {budget} is spent ({spent} this month); "
                "raise it on the project page to go on",
                budget=usd(per_month),
                spent=usd(spent),
            )
    return None


def budget_stop(step: Step, run: Run, reason: Text) -> None:
    """Stop the run before `step` (claimed, not started): its open steps are cancelled and
    the run ends stopped with outcome `budget` and the reason."""
    with transaction.atomic():
        fresh = Run.objects.select_for_update().get(pk=run.pk)
        if fresh.is_finished:
            return
        for open_step in fresh.steps.filter(status__in=Step.OPEN).order_by("position", "id"):
            step_set_status(open_step, S.CANCELLED, event="step.cancelled", error=str(reason))
            gate_cancel_for_step(open_step)
        run_set_status(fresh, Run.Status.STOPPED, outcome=Run.Outcome.BUDGET, reason=reason)
    run.status = fresh.status


def usage_record(*, step: Step, run: Run, output: dict[str, object], seconds: float) -> AgentUsage:
    """One agent step attempt's usage: what it reported (in its output), priced, and its time."""
    usage = Usage.from_output(output.get("usage"))
    project = run.project
    return AgentUsage.objects.create(
        step=step,
        run=run,
        project=project,
        spec_id=run.spec_id,
        attempt=step.attempt,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost=priced(
            usage,
            input_per_mtok=project.price_input_per_mtok,
            output_per_mtok=project.price_output_per_mtok,
        ),
        seconds=max(seconds, 0.0),
        reported=usage.reported,
    )
