"""The autopilot: status → the recommended workflow → run it → status again.

An autopilot run starts with one `status` step. When a status step of turn N succeeds,
the engine appends the steps of the workflow it recommends, then the status step of turn
N+1, until the spec is done, a gate waits, a step fails, or max_iterations turns were taken.
"""

from __future__ import annotations

from typing import Any

from workflows.engine.definitions import AGENT_WORKFLOWS, TemplateDef
from workflows.models import Run, Step
from workflows.services.events import event_append

TURN = "autopilot_turn"


def settings_of(run: Run, definition: TemplateDef | None = None) -> tuple[int, str]:
    """max_iterations and mode: the template's, unless the run's params override them."""
    stored = run.template_version.definition
    max_iterations = run.params.get("max_iterations", stored.get("max_iterations", 10))
    mode = run.params.get("mode", stored.get("mode", "auto"))
    if (
        isinstance(max_iterations, bool)
        or not isinstance(max_iterations, int)
        or not 1 <= max_iterations <= 100
    ):
        raise ValueError("params.max_iterations must be a whole number from 1 to 100")
    if mode not in ("auto", "supervised"):
        raise ValueError("params.mode must be 'auto' or 'supervised'")
    return max_iterations, mode


def autopilot_begin(run: Run, definition: TemplateDef) -> None:
    settings_of(run, definition)
    Step.objects.create(
        run=run, key="status-1", step_id="status", kind="status", position=0, config={TURN: 1}
    )


def is_turn_end(step: Step) -> bool:
    return step.kind == "status" and bool(step.config.get(TURN)) and step.status == Step.Status.SUCCEEDED


def autopilot_extend(run: Run, status_step: Step) -> None:
    """Append the recommended workflow's steps (and the next status) after a status step."""
    turn = int(status_step.config[TURN])
    recommendation = status_step.output.get("recommendation") or {}
    workflow = recommendation.get("workflow", "done")
    Run.objects.filter(pk=run.pk).update(iterations=turn)
    if workflow == "done":
        event_append(
            run_id=run.pk, type="step.progress", step=status_step, data={"autopilot": "done", "turn": turn}
        )
        return
    max_iterations, mode = settings_of(run)
    specs = steps_for(workflow, run, mode)
    last_turn = turn >= max_iterations
    if not last_turn:
        specs.append(("status", "status", {TURN: turn + 1}))
    position = status_step.position + 1
    previous = status_step
    created = []
    for name, kind, config in specs:
        step = Step.objects.create(
            run=run,
            key=f"{name}-{turn}" if kind != "status" else f"status-{turn + 1}",
            step_id=name,
            kind=kind,
            position=position,
            config=config,
            needs=[previous.key],
            timeout_seconds=config.pop("_timeout", None),
            max_retries=config.pop("_retries", 0),
        )
        Step.objects.filter(pk=previous.pk).update(dependents=[step.key])
        previous.dependents = [step.key]
        previous, position = step, position + 1
        created.append(step.key)
    event_append(
        run_id=run.pk,
        type="step.progress",
        step=status_step,
        data={
            "autopilot": workflow,
            "turn": turn,
            "reason": recommendation.get("reason", ""),
            "added": created,
            "last_turn": last_turn,
        },
    )


def steps_for(workflow: str, run: Run, mode: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The steps that carry out one SmartSpec workflow of the routing table."""
    project = run.project
    if workflow in AGENT_WORKFLOWS:
        steps: list[tuple[str, str, dict[str, Any]]] = []
        if mode == "supervised":
            steps.append(
                (
                    "approve",
                    "approval",
                    {
                        "title": f"Let the agent run {workflow} on {run.spec_id}?",
                        "approvers": ["role:approver"],
                        "quorum": 1,
                    },
                )
            )
        steps.append((workflow.replace("_", "-"), "agent", {"workflow": workflow}))
        return steps
    if workflow == "sync_tasks_checkboxes":
        return [("verify", "verify_tasks", {}), ("sync", "sync_tasks", {})]
    if workflow == "verify_tasks_progress":
        return [("verify", "verify_tasks", {})]
    if workflow == "test_suite_runner":
        return [
            (
                "tests",
                "shell",
                {"command": project.test_command or "python -m pytest -q", "report": "test-suite-runner"},
            )
        ]
    if workflow == "quality_gate":
        return [("quality-gate", "quality_gate", {})]
    raise ValueError(f"the autopilot does not know the workflow {workflow!r}")
