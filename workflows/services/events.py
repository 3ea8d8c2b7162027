"""The run's history: every state change appends an event in the same transaction."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from django.conf import settings
from django.db import transaction

from workflows.models import Event, Run, Step

logger = logging.getLogger(__name__)


def event_append(
    *, run_id: int, type: str, data: dict[str, Any] | None = None, step: Step | None = None
) -> Event:
    """Append an event with the run's next sequence number. Call inside a transaction.

    The counter row on the run is bumped first (one UPDATE … RETURNING), so concurrent
    writers to one run queue up on that row and sequences come out gapless and unique.
    """
    connection = transaction.get_connection()
    assert connection.in_atomic_block, "events are written in a transaction"
    with connection.cursor() as cursor:
        cursor.execute(_NEXT_SEQ_SQL, [run_id])
        seq = cursor.fetchone()[0]
    payload = dict(data or {})
    if step is not None:
        payload.setdefault("key", step.key)
    event = Event.objects.create(run_id=run_id, seq=seq, type=type, step=step, data=payload)
    if settings.REDIS_URL:
        transaction.on_commit(lambda: publish(event))
    return event


_NEXT_SEQ_SQL = (  # the table name comes from the model, never from input
    f"UPDATE {Run._meta.db_table} SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq"  # noqa: S608
)


def run_group(run_id: int) -> str:
    return f"run-{run_id}"


def publish(event: Event) -> None:
    """Send a committed event to every page watching its run (with Redis configured).

    Without Redis, pages read new events from the event table instead; see
    docs/architecture.md. A failed send loses nothing: the event is in the table, and the
    pages' slow poll picks it up.
    """
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "run.event", "event": event.as_message()}

    def send() -> None:
        try:
            async_to_sync(layer.group_send)(run_group(event.run_id), message)
        except Exception as exc:
            logger.warning("could not publish event %s of run %s: %s", event.seq, event.run_id, exc)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        send()
        return
    # A sync caller inside a running event loop cannot block on it: send from a thread.
    sender = threading.Thread(target=send)
    sender.start()
    sender.join()
