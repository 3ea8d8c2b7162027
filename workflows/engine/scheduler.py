"""The DAG: which steps are ready, fan-out and join, and when a run is finished.

Every function here runs inside the caller's transaction and records each change as an
event; none of them talks to the queue. They return the ids of steps that became
`queued`, and the caller dispatches those once the transaction commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from workflows.domain.template_format import PARALLEL_TASKS
from workflows.domain.texts import Text, sentence_data
from workflows.engine import git_runs, transition_sql
from workflows.engine.autopilot import autopilot_extend, is_turn_end
from workflows.engine.fan_out import branch_config, resolve_items
from workflows.engine.journal import event_append, event_append_after
from workflows.engine.parallel_join import join_parallel
from workflows.engine.worktree_turns import WorktreeTurns
from workflows.models import Run, Step

logger = logging.getLogger(__name__)

S = Step.Status


def step_set_status(step: Step, status: str, *, event: str, **fields: Any) -> bool:
    """Compare-and-set a step from its current status (and attempt); record the event.

    False when the row moved on meanwhile (another worker, a cancel): nothing is written.
    """
    now = timezone.now()
    if status in Step.FINISHED:
        fields.setdefault("finished_at", now)
    attempt = fields.get("attempt", step.attempt)
    data: dict[str, Any] = {"status": status, "from": step.status, "attempt": attempt}
    if "error" in fields:  # kept as its template too, for the pages (Step.error_sentence)
        fields["error_text"] = sentence_data(fields["error"])
    if fields.get("error"):
        data["error"] = fields["error"]
    change = transition_sql.step_update_statement(
        step.pk, {"status": status, **fields}, status=step.status, attempt=step.attempt
    )
    checkpoint = None
    if status in Step.FINISHED and step.parent_id is None:
        # What a resumed or re-run run needs of this step.
        checkpoint = {"key": step.key, "status": status, "output": fields.get("output", step.output)}
    recorded = event_append_after(
        change, run_id=step.run_id, type=event, step=step, data=data, checkpoint=checkpoint
    )
    if recorded is None:
        return False
    step.status = status
    for name, value in fields.items():
        setattr(step, name, value)
    return True


# The outcome a finished status gets when the caller names none.
DEFAULT_OUTCOME: dict[str, str] = {
    Run.Status.SUCCEEDED: Run.Outcome.STEPS_PASSED,
    Run.Status.FAILED: Run.Outcome.FAILED,
    Run.Status.CANCELLED: Run.Outcome.CANCELLED,
}


def run_set_status(run: Run, status: str, *, error: str = "", outcome: str = "", reason: str = "") -> bool:
    """Compare-and-set the run's status from the one `run` holds; record the event.

    A finished status also records why the run ended: `outcome` (Run.Outcome; a default
    per status when not given) and `reason` in words; the run.<status> event carries both.
    """
    old = run.status
    if old == status:
        return False
    fields: dict[str, Any] = {"status": status}
    now = timezone.now()
    if status == Run.Status.RUNNING and run.started_at is None:
        fields["started_at"] = now
    if status in Run.FINISHED:
        fields["finished_at"] = now
        fields["outcome"] = outcome or DEFAULT_OUTCOME.get(status, "")
        fields["outcome_reason"] = str(reason or error)
        fields["outcome_text"] = sentence_data(reason)
    elif old in Run.FINISHED:
        # A retried run is not finished any more: what said how it ended goes.
        fields.update(finished_at=None, error="", error_text={}, outcome="", outcome_reason="")
        fields["outcome_text"] = {}
    if error:
        fields["error"] = error
        fields["error_text"] = sentence_data(error)
    if not Run.objects.filter(pk=run.pk, status=old).update(**fields):
        return False
    for name, value in fields.items():
        setattr(run, name, value)
    data: dict[str, Any] = {"status": status, "from": old}
    if error:
        data["error"] = error
    if status in Run.FINISHED:
        data["outcome"] = fields["outcome"]
        data["reason"] = fields["outcome_reason"]
    event_append(run_id=run.pk, type=f"run.{status}", data=data)
    if status in Run.FINISHED:
        _remove_worktree_after_commit(run)
    return True


def _remove_worktree_after_commit(run: Run) -> None:
    """A finished (or cancelled) run's worktree goes once that is committed; its branch stays."""

    def remove() -> None:
        try:
            fresh = Run.objects.select_related("project").filter(pk=run.pk).exclude(git_branch="").first()
            if fresh is not None and fresh.status in Run.FINISHED:
                git_runs.remove_run_worktree(fresh)
        except Exception:  # never let cleaning up break finishing a run
            logger.exception("removing the worktree of run %s failed", run.pk)

    transaction.on_commit(remove)


def run_advance(
    run: Run,
    changed: list[Step] | None = None,
    *,
    freed: int = 0,
    start: Callable[[Step], bool] | None = None,
) -> list[int]:
    """Move the run forward after `changed` steps finished (or from scratch when None).

    Marks steps ready whose needs succeeded, skips dependents of failed steps, fans out,
    joins, queues ready steps up to max_parallel, and finishes the run when nothing is left
    to do. Returns the ids of the steps it queued.

    `freed` says how many slots the caller's own change just gave back (a worker finishing
    its step frees one), so a lone successor needs no count of the run's active steps.
    `start`, when given, is offered the first step that gets a slot: when it takes it (moves
    it to running itself and returns True), that step is not queued — a worker runs a
    chain's next step at once that way.
    """
    if run.status in Run.FINISHED:
        return []
    if changed is None:
        pending = list(run.steps.filter(status=S.PENDING).order_by("position", "id"))
        frontier = [s for s in pending if s.parent_id is None and not s.ready]
        waiting = [s for s in pending if s.ready][: run.max_parallel]
    else:
        keys: list[str] = []
        for step in changed:
            if step.parent_id is not None:
                group = _join(step)
                if group is not None and group.is_finished:
                    keys += group.dependents
            else:
                if is_turn_end(step):
                    _extend_autopilot(run, step)
                keys += step.dependents
        if run.status in Run.FINISHED:
            return []
        candidates = transition_sql.pending_steps(run.pk, keys, waiting_for_slot=run.max_parallel)
        frontier = [s for s in candidates if not s.ready]
        waiting = [s for s in candidates if s.ready]
    ready = _mark_ready(run, frontier, known={s.key: s.status for s in changed or []})
    queued, started = _fill_slots(run, ready, waiting, freed=freed, start=start)
    if not ((queued or started) and run.status == Run.Status.RUNNING):
        _settle_run(run)
    return queued


def _extend_autopilot(run: Run, step: Step) -> None:
    """Append the next turn, or end the run when the autopilot says it is over."""
    try:
        end = autopilot_extend(run, step)
    except ValueError as exc:
        run_set_status(run, Run.Status.FAILED, error=f"autopilot: {exc}")
        return
    if end is not None:
        run_set_status(run, end.status, outcome=end.outcome, reason=end.reason)


def _dependents(run: Run, step: Step) -> list[Step]:
    if not step.dependents:
        return []
    return transition_sql.pending_steps(run.pk, step.dependents, waiting_for_slot=0)


def _mark_ready(run: Run, frontier: list[Step], known: dict[str, str]) -> list[Step]:
    """Decide each frontier step: skipped (a need failed), ready, or still waiting.

    Returns the steps that became ready. `known` holds statuses the caller already has
    (the steps that just finished), so a chain step whose one need just succeeded costs
    no query here.
    """
    ready: list[Step] = []
    while frontier:
        needed = {k for s in frontier for k in s.needs} - known.keys()
        states = dict(known)
        if needed:
            states.update(run.steps.filter(key__in=needed).values_list("key", "status"))
        next_frontier: list[Step] = []
        for step in sorted(frontier, key=lambda s: (s.position, s.pk)):
            need_states = [states.get(k, S.PENDING) for k in step.needs]
            if any(st in (S.FAILED, S.CANCELLED, S.SKIPPED) for st in need_states):
                if step_set_status(
                    step, S.SKIPPED, event="step.skipped", error="a step it needs did not succeed"
                ):
                    next_frontier += _dependents(run, step)
            elif all(st == S.SUCCEEDED for st in need_states):
                if step.for_each is not None:
                    ready += _fan_out(run, step)
                    if step.is_finished:
                        next_frontier += _dependents(run, step)
                elif not step.ready:
                    ready.append(step)
        frontier = next_frontier
    return ready


def _fill_slots(
    run: Run, ready: list[Step], waiting: list[Step], *, freed: int, start: Callable[[Step], bool] | None
) -> tuple[list[int], bool]:
    """Give free slots to ready steps, earliest first: the first may be started by `start`,
    the others are queued. Newly ready steps that find no slot, or no turn in the run's git
    worktree (workflows.engine.worktree_turns), are marked ready and wait.

    Returns the ids it queued and whether `start` took a step.
    """
    candidates = sorted(ready + waiting, key=lambda s: (s.position, s.pk))
    if not candidates:
        return [], False
    # The caller's own step gave back `freed` slots: a lone successor needs no count.
    slots = (
        len(candidates)
        if len(candidates) <= freed
        else run.max_parallel - transition_sql.active_count(run.pk)
    )
    queued: list[int] = []
    started = False
    now = timezone.now()
    turns = WorktreeTurns(run)
    for step in candidates:
        if slots <= 0 or turns.must_wait(step):
            if not step.ready:
                Step.objects.filter(pk=step.pk).update(ready=True)
            continue
        if start is not None and not started and start(step):
            started = True
        elif step_set_status(step, S.QUEUED, event="step.queued", enqueued_at=now):
            queued.append(step.pk)
        else:
            continue
        slots -= 1
        turns.took(step)
    return queued, started


def _fan_out(run: Run, group: Step) -> list[Step]:
    """Start a for_each group: one branch per item, each ready for a slot; returns them."""
    items, error = resolve_items(run, group)
    config, error = (group.config, error) if error else branch_config(run, group)
    if error:
        step_set_status(group, S.FAILED, event="step.failed", error=error)
        return []
    if not step_set_status(group, S.RUNNING, event="step.started", started_at=timezone.now()):
        return []
    existing = set(group.branches.values_list("key", flat=True))
    branches = [
        Step(
            run=run,
            key=f"{group.key}[{index}]",
            step_id=group.step_id,
            kind=group.kind,
            position=group.position,
            config=config,
            parent=group,
            item=item,
            max_retries=group.max_retries,
            timeout_seconds=group.timeout_seconds,
            ready=True,
        )
        for index, item in enumerate(items)
        if f"{group.key}[{index}]" not in existing
    ]
    branches = Step.objects.bulk_create(branches)
    event_append(
        run_id=run.pk,
        type="step.progress",
        step=group,
        data={"branches": len(items), "join": group.join},
    )
    if not items:
        step_set_status(group, S.SUCCEEDED, event="step.succeeded", output={"branches": 0})
    return branches


def _join(branch: Step) -> Step | None:
    """Apply the group's join policy after a branch finished; returns the group."""
    group = None if branch.parent_id is None else transition_sql.step_if(branch.parent_id, S.RUNNING)
    if group is None:
        return None
    # A parallel_tasks group waits for every branch, then merges them.
    if group.for_each == PARALLEL_TASKS and not join_parallel(group, step_set_status=step_set_status):
        return group
    by_status = transition_sql.branch_counts(group.pk)
    total = sum(by_status.values())
    counts = {st: by_status.get(st, 0) for st in (S.SUCCEEDED, S.FAILED, S.CANCELLED)}
    need = _join_need(group.join, total)
    done = counts[S.SUCCEEDED]
    lost = counts[S.FAILED] + counts[S.CANCELLED]
    output = {"branches": total, "succeeded": done, "failed": lost, "join": group.join}
    event_append(run_id=group.run_id, type="step.progress", step=group, data=output)
    if done >= need:
        _cancel_branches(group, reason="the join was already met")
        step_set_status(group, S.SUCCEEDED, event="step.succeeded", output=output)
    elif lost > total - need:
        _cancel_branches(group, reason="the join can no longer be met")
        step_set_status(
            group,
            S.FAILED,
            event="step.failed",
            output=output,
            error=f"{done} of {total} branches succeeded; the join needed {need}",
        )
    return group


def _join_need(join: str, total: int) -> int:
    if join == "any":
        return min(1, total)
    if join.isdigit():
        return min(int(join), total)
    return total


def _cancel_branches(group: Step, *, reason: str) -> None:
    for branch in group.branches.filter(status__in=(S.PENDING, S.QUEUED, S.RUNNING)):
        step_set_status(branch, S.CANCELLED, event="step.cancelled", error=reason)


def _settle_run(run: Run) -> None:
    """Set the run's status from its steps: running, waiting, or finished."""
    active = set(
        run.steps.filter(status__in=Step.OPEN).order_by().values_list("status", flat=True).distinct()
    )
    if not active:
        failed = run.steps.filter(status=S.FAILED, parent__isnull=True).exists()
        if failed:
            error = _first_error(run)
            run_set_status(run, Run.Status.FAILED, error=error, reason=Text("failed: {error}", error=error))
        else:
            # An autopilot run ends through its status steps (autopilot_extend); one that
            # ran out of steps without that never reached its goal.
            if run.template_version.definition.get("kind") == "autopilot":
                run_set_status(
                    run,
                    Run.Status.STOPPED,
                    outcome=Run.Outcome.MAX_ITERATIONS,
                    reason=Text("stopped: the turn limit was reached before the spec was done"),
                )
            else:
                run_set_status(run, Run.Status.SUCCEEDED, reason=Text("every step passed"))
    elif active & {S.QUEUED, S.RUNNING}:
        run_set_status(run, Run.Status.RUNNING)
    elif active == {S.WAITING} or active == {S.WAITING, S.PENDING}:
        run_set_status(run, Run.Status.WAITING)


def _first_error(run: Run) -> str:
    failed = run.steps.filter(status=S.FAILED)
    step = (failed.filter(parent__isnull=True) or failed).order_by("finished_at").first()
    return Text("step {key}: {error}", key=step.key, error=step.error_sentence) if step else ""
