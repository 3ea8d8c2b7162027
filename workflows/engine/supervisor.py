"""Keeps runs moving when workers die or queue messages are lost.

It runs every second in each `manage.py qcluster` main process (and once at start, so a
machine that restarted carries on with every unfinished run). Several supervisors at once
are safe: every change is a compare-and-set.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from workflows.engine import dispatch
from workflows.engine.executors import StepResult
from workflows.engine.gates import approvals_fire_timers
from workflows.engine.worker import complete
from workflows.models import Step, WorkerCluster

logger = logging.getLogger(__name__)
S = Step.Status


def supervise() -> dict[str, int]:
    reaped = reap_expired_leases()
    resent = resend_stale_messages()
    timers = fire_timers()
    return {"reaped": reaped, "resent": resent, "timers": timers}


def reap_expired_leases() -> int:
    """Running steps whose worker stopped renewing the lease: retry them or fail them."""
    now = timezone.now()
    count = 0
    for step in Step.objects.filter(status=S.RUNNING, lease_until__lt=now):
        result = StepResult.lost(
            f"the worker running it stopped responding (lease expired; attempt {step.attempt})"
        )
        complete(step, result, lease_until__lt=now)
        count += 1
        logger.warning("reaped step %s of run %s (attempt %s)", step.key, step.run_id, step.attempt)
    return count


def resend_stale_messages() -> int:
    """Queued steps whose backoff has passed, or whose message seems lost, are sent again."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.STEP_RESEND_AFTER_SECONDS)
    backoff_over = Q(not_before__isnull=True) | Q(not_before__lte=now)
    due = Step.objects.filter(status=S.QUEUED).filter(
        Q(enqueued_at__isnull=True)
        | Q(not_before__lte=now, enqueued_at__lt=F("not_before"))
        | (Q(enqueued_at__lt=stale) & backoff_over)
    )
    ids = []
    for step_id in due.values_list("pk", flat=True)[:500]:
        if Step.objects.filter(pk=step_id, status=S.QUEUED).update(enqueued_at=now):
            ids.append(step_id)
    dispatch.enqueue(ids)
    return len(ids)


def fire_timers() -> int:
    """Approval deadlines and reminders that are due."""
    return approvals_fire_timers()


def cluster_report_in(*, name: str, workers: int) -> None:
    """Record that this cluster is alive (the dashboard and /readyz count live ones)."""
    now = timezone.now()
    host, _, pid = name.rpartition(":")
    updated = WorkerCluster.objects.filter(name=name).update(last_seen=now, workers=workers)
    if not updated:
        WorkerCluster.objects.create(
            name=name, host=host, pid=int(pid), workers=workers, started_at=now, last_seen=now
        )


def cluster_sign_off(*, name: str) -> None:
    WorkerCluster.objects.filter(name=name).delete()
