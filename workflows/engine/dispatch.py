"""Hand steps to django-q2 workers once the transaction that queued them has committed.

A message only says "look at step N now": workers re-read the step and do nothing unless
it is still queued, so a lost or duplicated message never loses or repeats work (the
supervisor re-sends messages for steps left queued too long).
"""

from __future__ import annotations

from django.db import transaction

TASK = "workflows.tasks.execute_step_task"


def enqueue(step_ids: list[int]) -> None:
    from django_q.tasks import async_task

    for step_id in step_ids:
        async_task(TASK, step_id, save=False, task_name=f"step-{step_id}")


def after_commit(step_ids: list[int]) -> None:
    if step_ids:
        ids = list(step_ids)
        transaction.on_commit(lambda: enqueue(ids))
