"""The autopilot: status → the recommended workflow → run it → status again.

An autopilot run starts with one `status` step. When a status step of turn N succeeds,
the engine appends the steps of the workflow it recommends, then the status step of turn
N+1, until the spec is done, a gate waits, a step fails, or max_iterations turns were taken.

It never sends work that cannot make progress: before appending a turn it compares the
status with the previous turn's (the open tasks and a fingerprint of the spec's files,
its hooked files and its status, `workflows.domain.status.progress_of`). When a turn
changed nothing the run stops (`no_progress`); when the only open tasks need a person's
check (`needs_manual`), it stops before asking the agent. After the last allowed turn a
final status step looks once more: done ends the run succeeded, anything else stopped
(`max_iterations`), except for a template made of one turn (the development loop), whose
goal is that one turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflows.domain.task_groups import parallel_count
from workflows.domain.template_format import AGENT_WORKFLOWS, PARALLEL_TASKS, TemplateDef
from workflows.domain.texts import Code, Text, text_from_data
from workflows.engine.budget import budget_spent
from workflows.engine.journal import event_append
from workflows.engine.spec_access import open_task_batches
from workflows.models import Run, Step

TURN = "autopilot_turn"
FINAL = "autopilot_final"  # the status step that looks once more after the last turn
MAX_BATCHES_PER_TURN = 8  # implement_tasks steps of one turn for a spec with parallel tasks


@dataclass(frozen=True)
class End:
    """How an autopilot run ends after a status step: Run.Status, Run.Outcome, words."""

    status: str
    outcome: str
    reason: Text


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
        raise ValueError(Text("params.max_iterations must be a whole number from 1 to 100"))
    if mode not in ("auto", "supervised"):
        raise ValueError(Text("params.mode must be 'auto' or 'supervised'"))
    return max_iterations, mode


def autopilot_begin(run: Run, definition: TemplateDef) -> None:
    settings_of(run, definition)
    Step.objects.create(
        run=run, key="status-1", step_id="status", kind="status", position=0, config={TURN: 1}
    )


def is_turn_end(step: Step) -> bool:
    return step.kind == "status" and bool(step.config.get(TURN)) and step.status == Step.Status.SUCCEEDED


def autopilot_extend(run: Run, status_step: Step) -> End | None:
    """Append the recommended workflow's steps (and the next status) after a status step,
    or say how the run ends (the scheduler sets that status through run_set_status)."""
    turn = int(status_step.config[TURN])
    final = bool(status_step.config.get(FINAL))
    recommendation = status_step.output.get("recommendation") or {}
    workflow = recommendation.get("workflow", "done")
    reason = _reason_of(recommendation)
    if not final:
        Run.objects.filter(pk=run.pk).update(iterations=turn)
    max_iterations, mode = settings_of(run)
    if workflow == "done":
        key = "final_check" if final else "autopilot"
        event_append(run_id=run.pk, type="step.progress", step=status_step, data={key: "done", "turn": turn})
        return End(Run.Status.SUCCEEDED, Run.Outcome.DONE, Text("done: {reason}", reason=reason))
    if final:
        event_append(
            run_id=run.pk,
            type="step.progress",
            step=status_step,
            data={"final_check": workflow, "turn": turn, "reason": str(reason)},
        )
        if _one_turn_by_design(run):
            return End(
                Run.Status.SUCCEEDED,
                Run.Outcome.STEPS_PASSED,
                Text(
                    "the turn ran; the next step is {workflow}: {reason}",
                    workflow=Code(workflow),
                    reason=reason,
                ),
            )
        return End(
            Run.Status.STOPPED,
            Run.Outcome.MAX_ITERATIONS,
            Text(
                "stopped: the turn limit ({limit}) was reached before the spec was done; "
                "it still needs {workflow}: {reason}",
                limit=max_iterations,
                workflow=Code(workflow),
                reason=reason,
            ),
        )
    end = _stop_before(run, status_step, workflow)
    if end is not None:
        event_append(
            run_id=run.pk,
            type="step.progress",
            step=status_step,
            data={
                "autopilot_stop": end.outcome,
                "turn": turn,
                "reason": str(end.reason),
                "workflow": workflow,
            },
        )
        return end
    specs = steps_for(workflow, run, mode)
    last_turn = turn >= max_iterations
    specs.append(("status", "status", {TURN: turn + 1, **({FINAL: True} if last_turn else {})}))
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
            for_each=config.pop("_for_each", None),
            join=config.pop("_join", ""),
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
            "reason": str(reason),
            "added": created,
            "last_turn": last_turn,
        },
    )
    return None


def _one_turn_by_design(run: Run) -> bool:
    """The template itself takes one turn (the development loop) and the run kept that."""
    stored = run.template_version.definition
    return "max_iterations" not in run.params and stored.get("max_iterations") == 1


def _reason_of(recommendation: dict[str, Any]) -> Text:
    """The status step's reason as a sentence, from its stored template when it has one."""
    stored = text_from_data(recommendation.get("reason_text"))
    return (
        stored if isinstance(stored, Text) else Text("{reason}", reason=str(recommendation.get("reason", "")))
    )


def _tasks_in_words(ids: list[str], manual: set[str]) -> str:
    shown = [Text("{task} (needs a manual check)", task=i) if i in manual else i for i in ids[:5]]
    listed = Text.join(", ", shown)
    return Text("{tasks} and {more} more", tasks=listed, more=len(ids) - 5) if len(ids) > 5 else listed


def _stop_before(run: Run, status_step: Step, workflow: str) -> End | None:
    """Why the recommended workflow must not be sent now, or None when it may."""
    progress = status_step.output.get("progress") or {}
    open_tasks = [str(t) for t in progress.get("open_tasks") or []]
    manual = {str(t) for t in progress.get("needs_manual") or []}
    if workflow in AGENT_WORKFLOWS and open_tasks and set(open_tasks) <= manual:
        tasks = ", ".join(open_tasks[:5]) + (" …" if len(open_tasks) > 5 else "")
        template = (
            "stopped: {tasks} needs a manual check, which no agent can do; "
            "record the check on the spec page, then run again"
            if len(open_tasks) == 1
            else "stopped: {tasks} need a manual check, which no agent can do; "
            "record the checks on the spec page, then run again"
        )
        return End(Run.Status.STOPPED, Run.Outcome.NEEDS_MANUAL, Text(template, tasks=tasks))
    if workflow in AGENT_WORKFLOWS:
        # Before the turn, not only before its agent step: no supervised-mode approval is
        # asked for an agent step the budget would stop.
        spent = budget_spent(run)
        if spent is not None:
            return End(Run.Status.STOPPED, Run.Outcome.BUDGET, spent)
    turn = int(status_step.config[TURN])
    fingerprint = progress.get("fingerprint")
    if turn < 2 or not fingerprint:
        return None
    previous = run.steps.filter(key=f"status-{turn - 1}", kind="status").first()
    if previous is None or (previous.output.get("progress") or {}).get("fingerprint") != fingerprint:
        return None
    before = (previous.output.get("recommendation") or {}).get("workflow", "?")
    what = (
        _tasks_in_words(open_tasks, manual)
        if open_tasks
        else Text("{spec} ({workflow})", spec=run.spec_id, workflow=Code(workflow))
    )
    return End(
        Run.Status.STOPPED,
        Run.Outcome.NO_PROGRESS,
        Text(
            "stopped: no progress on {what}: turn {turn} ({before}) changed nothing, "
            "so {workflow} is not sent again",
            what=what,
            turn=turn - 1,
            before=Code(before),
            workflow=Code(workflow),
        ),
    )


def _on_a_branch(run: Run) -> bool:
    """The run works on its own git branch (workflows.engine.git_runs): set by its first step."""
    return bool(Run.objects.filter(pk=run.pk).values_list("git_branch", flat=True).first())


def steps_for(workflow: str, run: Run, mode: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The steps that carry out one SmartSpec workflow of the routing table.

    Supervised, an agent workflow gets an approval before the agent and, when the run works
    on a git branch, a review gate after it (workflows.engine.reviews): the turn's status
    step comes after the review."""
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
        batches = _parallel_batches(run) if workflow == "implement_tasks" else 0
        if batches:
            steps += _batch_steps(batches)
        else:
            steps.append((workflow.replace("_", "-"), "agent", {"workflow": workflow}))
        if mode == "supervised" and _on_a_branch(run):
            steps.append(_review_step(workflow, run, steps))
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


def _review_step(
    workflow: str, run: Run, steps: list[tuple[str, str, dict[str, Any]]]
) -> tuple[str, str, dict[str, Any]]:
    """Review after the agent (workflows.engine.reviews): the diff of the turn's agent steps
    and the verification of the tasks they touched; approving merges the run's branch,
    rejecting with a comment sends the work back. After batches of parallel tasks it
    reviews them all (`review_chain`: the agent steps of the workflow right before it)."""
    agents = [name for name, kind, _ in steps if kind == "agent"]
    config: dict[str, Any] = {
        "title": f"Review what the agent did ({workflow}) on {run.spec_id} and merge it?",
        "approvers": ["role:approver"],
        "quorum": 1,
        "review": agents[-1],
    }
    if len(agents) > 1:
        config["review_chain"] = True
    return ("review", "approval", config)


def _parallel_batches(run: Run) -> int:
    """How many batches the spec's open tasks make, when two or more of them may run at
    once (workflows.domain.task_groups); 0 otherwise: one agent step does them all."""
    try:
        batches = open_task_batches(run)
    except LookupError:
        return 0
    return len(batches) if parallel_count(batches) >= 2 else 0


def _batch_steps(batches: int) -> list[tuple[str, str, dict[str, Any]]]:
    """One `for_each: parallel_tasks` agent step per batch, one after another: each fans out,
    when it starts, over the first batch of what is still open (so it builds on what the
    one before merged, and takes again a task whose branch did not merge). One agent per
    task group, up to max_parallel; join 1: the turn goes on when a branch's work was kept,
    and the next status step verifies which tasks are done."""
    config = {"workflow": "implement_tasks", "_for_each": PARALLEL_TASKS, "_join": "1"}
    count = min(batches, MAX_BATCHES_PER_TURN)
    return [
        ("implement-tasks" if n == 1 else f"implement-tasks-b{n}", "agent", dict(config))
        for n in range(1, count + 1)
    ]
