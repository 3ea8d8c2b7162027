"""Running one step in a worker: claim under a lease, heartbeat, execute, complete.

Claim and completion are compare-and-set updates, so a duplicated queue message or a
worker that wakes up after its lease expired can neither run a step twice at once nor
overwrite a newer attempt. When a completed step makes exactly one more step ready, the
same worker claims and runs it at once instead of paying for a queue round trip.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from workflows.domain.task_groups import item_tasks
from workflows.domain.texts import Text, reason_of
from workflows.engine import dispatch, git_branches, git_runs, transition_sql
from workflows.engine.budget import budget_spent, usage_record
from workflows.engine.executors import StepContext, StepResult, changes_files, executor_for
from workflows.engine.gates import gate_cancel_for_step, gate_finish_step
from workflows.engine.journal import event_append
from workflows.engine.scheduler import run_advance, run_set_status, step_set_status
from workflows.models import ApprovalGate, Run, Step
from workflows.observability.logging import bind_step, unbind_step
from workflows.workspace_policy import WorkspaceNotAllowed

logger = logging.getLogger(__name__)
S = Step.Status
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
LOG_FLUSH_SECONDS = 0.25
STATUS_CHECK_SECONDS = 0.5


def lease_seconds() -> int:
    return int(settings.STEP_LEASE_SECONDS)


def execute_step(step_id: int) -> None:
    """Run the step if it is still queued, then any successor it made ready.

    Completing a step and claiming the next one it readied happen in one transaction, and
    the run is read once per chain: a chain of quick steps costs no queue round trip.
    """
    step = claim(step_id)
    run: Run | None = None
    while step is not None:
        if run is None or run.pk != step.run_id:
            run = Run.objects.select_related("project").get(pk=step.run_id)
        if step.kind == "agent" and (spent := budget_spent(run)) is not None:
            budget_stop(step, run, spent)  # the agent is not called
            return
        result = _execute(step, run)
        step = complete(step, result, run=run, claim_next=True)


def _execute(step: Step, run: Run) -> StepResult:
    context = _context(step, run)
    try:
        context.worktree = git_runs.run_worktree(run)
        if context.worktree is not None and git_branches.is_branch_step(step):
            # A branch of a parallel group works beside the others, in its own worktree.
            context.worktree = git_branches.branch_worktree(run, step)
    except (git_runs.GitError, WorkspaceNotAllowed) as exc:
        return StepResult.fail(Text("the run's git worktree: {reason}", reason=exc.args[0]))
    heartbeat = Heartbeat.get()
    heartbeat.watch(step, context)
    log_tokens = bind_step(step)
    try:
        result = executor_for(step.kind)(context)
    except Exception as exc:
        logger.exception("step %s of run %s raised", step.key, step.run_id)
        result = StepResult.fail(_raised(exc))
    finally:
        heartbeat.release()
        unbind_step(log_tokens)
    if step.kind == "agent":
        # Every attempt's time is recorded, with whatever usage the agent reported.
        usage_record(step=step, run=run, output=result.output, seconds=time.monotonic() - context.started)
    if context.stop_event.is_set() and result.status == "succeeded":
        result = context.interrupted()
    if context.worktree is not None and changes_files(step.kind):
        # A kind that changes no file commits nothing: what the worktree holds is another
        # step's (workflows.engine.worktree_turns).
        result = _commit(step, run, context, context.worktree, result)
    return result


def _raised(exc: Exception) -> str:
    """What a step that raised failed with: the exception's name and message, the message
    kept as the sentence it is when it is one (workflows.domain.texts.Text)."""
    return Text("{kind}: {reason}", kind=type(exc).__name__, reason=reason_of(exc))


def _commit(step: Step, run: Run, context: StepContext, worktree: Path, result: StepResult) -> StepResult:
    """Commit what the step changed in its worktree (the run's, or its branch's); the sha goes
    in its output."""
    tasks = item_tasks(context.item)
    named = result.output.get("tasks")
    tasks += [t for t in named if isinstance(t, str) and t not in tasks] if isinstance(named, list) else []
    try:
        done = git_runs.commit_step(run, worktree, step_key=step.key, tasks=tasks)
    except git_runs.GitError as exc:
        logger.warning("step %s of run %s: commit failed: %s", step.key, step.run_id, exc)
        return StepResult.fail(
            Text("committing the step's changes failed: {reason}", reason=exc.args[0]), **result.output
        )
    if done:
        branch = git_branches.branch_name(run, step) if git_branches.is_branch_step(step) else run.git_branch
        result.output["git"] = {"commit": done[0], "parent": done[1], "branch": branch}
    return result


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


def claim(step_id: int, run: Run | None = None) -> Step | None:
    """Take a queued step for this worker, or None when it is not ours to run.

    `run`, when the caller holds it, saves re-checking a run known to be running.
    """
    with transaction.atomic(savepoint=False):
        step = transition_sql.step_if(step_id, S.QUEUED)
        now = timezone.now()
        if step is None or (step.not_before is not None and step.not_before > now):
            return None
        return step if _take(step, run, now) else None


def _take(step: Step, run: Run | None, now: datetime) -> bool:
    """Move a queued (or, run at once, a pending) step to running under this worker's lease."""
    if not step_set_status(
        step,
        S.RUNNING,
        event="step.started",
        attempt=step.attempt + 1,
        lease_owner=WORKER_ID,
        lease_until=now + timedelta(seconds=lease_seconds()),
        started_at=now,
        not_before=None,
        **({"enqueued_at": now} if step.enqueued_at is None else {}),
    ):
        return False
    if run is None or run.pk != step.run_id:
        run = Run.objects.only("id", "status", "started_at", "outcome").get(pk=step.run_id)
    # Only a queued or waiting run changes here, through the one compare-and-set.
    if run.status in (Run.Status.QUEUED, Run.Status.WAITING):
        run_set_status(run, Run.Status.RUNNING)
    return True


def complete(
    step: Step,
    result: StepResult,
    *,
    run: Run | None = None,
    claim_next: bool = False,
    **guard: object,
) -> Step | None:
    """Record the result of this attempt and advance the run.

    Every change is a compare-and-set on (status, attempt); `guard` adds conditions the row
    must still meet (the supervisor passes an expired lease), so two parties can never both
    complete one attempt, and a cancelled or superseded attempt changes nothing. Steps that
    became ready go to the queue once this commits; with `claim_next`, the first of them
    goes straight from pending to running under this worker instead, and is returned for
    it to run at once.
    """
    taken: list[Step] = []

    def start(ready: Step) -> bool:
        if _take(ready, run, timezone.now()):
            taken.append(ready)
            return True
        return False

    with transaction.atomic():
        queued = _record(step, result, run, guard, start if claim_next else None)
        dispatch.after_commit(queued)
    return taken[0] if taken else None


def _record(
    step: Step,
    result: StepResult,
    run: Run | None,
    guard: dict[str, object],
    start: Callable[[Step], bool] | None,
) -> list[int]:
    if (
        guard
        and not Step.objects.filter(pk=step.pk, status=S.RUNNING, attempt=step.attempt, **guard).exists()
    ):
        return []
    fields: dict[str, object] = {"lease_owner": "", "lease_until": None, "output": result.output}
    if result.status == "succeeded":
        moved = step_set_status(step, S.SUCCEEDED, event="step.succeeded", **fields)
    elif result.status == "waiting":
        moved = step_set_status(step, S.WAITING, event="step.waiting", **fields)
        if moved and _finish_if_decided(step):
            return []  # finishing the gate advanced the run already
    elif result.infrastructure and step.infra_retries < INFRA_RETRIES:
        # Its worker died: not the step's failure, so its own `retries` are not spent, and
        # even a step with retries: 0 runs again (a crash resumes where it stopped).
        fields["infra_retries"] = step.infra_retries + 1
        _retry(step, result, fields)
        return []
    elif step.attempt - step.infra_retries <= step.max_retries:
        _retry(step, result, fields)
        return []  # the supervisor sends it once its backoff has passed
    else:
        moved = step_set_status(step, S.FAILED, event="step.failed", error=result.error, **fields)
    if not moved:
        return []  # cancelled, or a newer attempt took over: this result is stale
    run = Run.objects.get(pk=step.run_id) if run is None else run
    # The step held a slot while it ran; finished or waiting, it gives that slot back.
    return run_advance(run, [step] if step.is_finished else [], freed=1, start=start)


def _retry(step: Step, result: StepResult, fields: dict[str, object]) -> None:
    """Back to the queue after a backoff; the event says why (and whether the
    infrastructure, not the step, failed)."""
    step_set_status(
        step,
        S.QUEUED,
        event="step.retrying",
        error=f"infrastructure: {result.error}" if result.infrastructure else result.error,
        not_before=timezone.now() + timedelta(seconds=backoff_seconds(step.attempt)),
        enqueued_at=timezone.now(),
        **fields,
    )


def _finish_if_decided(step: Step) -> bool:
    """A gate may be decided before its step was marked waiting; apply that decision now.

    True when it did (and so advanced the run)."""
    gate = ApprovalGate.objects.filter(step=step).first()
    return gate is not None and gate_finish_step(gate)


# How many attempts lost with a dead worker a step gets back, whatever its own `retries`.
INFRA_RETRIES = 2


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff: base, 2×base, 4×base … capped."""
    base = float(settings.STEP_RETRY_BACKOFF_SECONDS)
    return float(min(base * (2 ** max(0, attempt - 1)), 300.0))


def _context(step: Step, run: Run) -> StepContext:
    def inputs() -> dict[str, dict[str, object]]:
        keys = list(step.needs)
        if step.parent_id is not None:
            keys += Step.objects.get(pk=step.parent_id).needs
        return dict(Step.objects.filter(run_id=step.run_id, key__in=keys).values_list("key", "output"))

    return StepContext(
        run_id=run.pk,
        step_pk=step.pk,
        key=step.key,
        kind=step.kind,
        attempt=step.attempt,
        config=dict(step.config),
        item=step.item,
        spec_id=run.spec_id,
        params=dict(run.params),
        project=run.project,
        load_inputs=inputs,
        timeout_seconds=step.timeout_seconds,
    )


def flush_logs(step: Step, context: StepContext) -> None:
    lines = context.take_log_lines()
    if lines:
        with transaction.atomic():
            event_append(run_id=step.run_id, type="step.log", step=step, data={"lines": lines})


class Heartbeat(threading.Thread):
    """One thread per worker process that watches the step being executed: it extends the
    lease, flushes log lines as events, and stops the step when it was cancelled, lost its
    lease, or ran past its timeout. It lives as long as the process, with its own database
    connection, so a step costs no thread start or connection."""

    _instance: Heartbeat | None = None
    _instance_pid = 0
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        super().__init__(name="step-heartbeat", daemon=True)
        self.lock = threading.Lock()
        self.watching: tuple[Step, StepContext] | None = None

    @classmethod
    def get(cls) -> Heartbeat:
        with cls._instance_lock:
            if cls._instance is None or cls._instance_pid != os.getpid():
                cls._instance = Heartbeat()
                cls._instance_pid = os.getpid()
                cls._instance.start()
            return cls._instance

    def watch(self, step: Step, context: StepContext) -> None:
        with self.lock:
            self.watching = (step, context)
            self.last_renew = self.last_check = time.monotonic()

    def release(self) -> None:
        """Stop watching; waits for a beat in progress (it holds the lock)."""
        with self.lock:
            watched, self.watching = self.watching, None
        if watched is not None:
            flush_logs(*watched)

    def run(self) -> None:
        while True:
            time.sleep(LOG_FLUSH_SECONDS)
            with self.lock:
                if self.watching is None:
                    # Idle: hold no database connection between steps.
                    connection.close()
                    continue
                try:
                    self._beat(*self.watching)
                except Exception as exc:
                    logger.exception("heartbeat of step %s failed: %s", self.watching[0].key, exc)
                    close_old_connections()

    def _beat(self, step: Step, context: StepContext) -> None:
        now = time.monotonic()
        flush_logs(step, context)
        deadline = context.deadline
        if deadline is not None and now > deadline:
            context.stop(f"timed out after {context.timeout_seconds}s")
        if now - self.last_check >= STATUS_CHECK_SECONDS:
            self.last_check = now
            if not Step.objects.filter(pk=step.pk, status=S.RUNNING, attempt=step.attempt).exists():
                context.stop("cancelled")
        if now - self.last_renew >= max(1.0, lease_seconds() / 3):
            self.last_renew = now
            if not _renew_lease(step):
                context.stop("the lease was lost")


def _renew_lease(step: Step) -> bool:
    until = timezone.now() + timedelta(seconds=lease_seconds())
    with transaction.atomic():
        return bool(
            Step.objects.filter(
                pk=step.pk, status=S.RUNNING, attempt=step.attempt, lease_owner=WORKER_ID
            ).update(lease_until=until)
        )
