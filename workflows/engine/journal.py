"""The run's history: every state change appends an event in the same transaction."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from workflows.engine import transition_sql
from workflows.models import Event, Step

logger = logging.getLogger(__name__)


def event_append(
    *, run_id: int, type: str, data: dict[str, Any] | None = None, step: Step | None = None
) -> Event:
    """Append an event with the run's next sequence number. Call inside a transaction.

    Concurrent writers to one run queue up on the run's counter row, so sequences come out
    gapless and unique (`transition_sql.event_insert`).
    """
    event = event_append_after(None, run_id=run_id, type=type, data=data, step=step)
    assert event is not None
    return event


def event_append_after(
    change: tuple[str, list[Any]] | None,
    *,
    run_id: int,
    type: str,
    data: dict[str, Any] | None = None,
    step: Step | None = None,
    checkpoint: dict[str, Any] | None = None,
) -> Event | None:
    """Make `change` (an UPDATE of one row, as SQL and parameters) and append the event
    only when it changed that row; None when it did not, and then nothing was written.
    With `checkpoint`, that state of the step is also saved, taken at the event.
    """
    connection = transaction.get_connection()
    assert connection.in_atomic_block, "events are written in a transaction"
    payload = dict(data or {})
    if step is not None:
        payload.setdefault("key", step.key)
    now = timezone.now()
    step_pk = step.pk if step is not None else None
    written = transition_sql.event_insert(
        change,
        run_id=run_id,
        row=[type, step_pk, json.dumps(payload)],
        at=connection.ops.adapt_datetimefield_value(now),
        checkpoint=None if checkpoint is None else (step_pk, json.dumps(checkpoint)),
    )
    if written is None:
        return None
    event_id, seq = written
    event = Event(id=event_id, run_id=run_id, seq=seq, type=type, step=step, data=payload, created_at=now)
    if settings.REDIS_URL:
        transaction.on_commit(lambda: publish(event))
    return event


# A run that changes faster than this wakes its pages once per interval (pages read every
# event since the last one they sent from the table, so none is missed).
WAKE_INTERVAL_SECONDS = 0.02


def run_group(run_id: int) -> str:
    return f"run-{run_id}"


def publish(event: Event) -> None:
    """Wake every page watching the event's run (with Redis configured).

    The group message is only a wake-up: the consumer reads what it has not sent yet from
    the event table, so messages may be coalesced, reordered or lost without any page
    missing an event (a slow poll covers a lost one). Sends go through one event loop per
    process, in a thread of its own, so a step never waits for Redis and a process keeps one
    connection pool instead of opening a connection per event; a run wakes its pages at most
    once per WAKE_INTERVAL_SECONDS.
    """
    _Publisher.get().wake(event.run_id, event.seq)


class _Publisher:
    _instance: _Publisher | None = None
    _pid = 0
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.lock = threading.Lock()
        self.latest: dict[int, int] = {}  # run id → highest seq not yet sent (under self.lock)
        self.quiet_until: dict[int, float] = {}  # run id → loop time of its next send (loop only)
        thread = threading.Thread(target=self.loop.run_forever, name="event-publisher", daemon=True)
        thread.start()

    @classmethod
    def get(cls) -> _Publisher:
        with cls._lock:
            if cls._instance is None or cls._pid != os.getpid():
                cls._instance, cls._pid = _Publisher(), os.getpid()
            return cls._instance

    def wake(self, run_id: int, seq: int) -> None:
        # One pending send per run carries its highest sequence: events that come while it
        # waits cost the writer no more than this dictionary update.
        with self.lock:
            pending = run_id in self.latest
            self.latest[run_id] = max(seq, self.latest.get(run_id, 0))
        if not pending:
            self.loop.call_soon_threadsafe(self._schedule, run_id)

    def _schedule(self, run_id: int) -> None:
        # On the loop: at most one wake-up per run every WAKE_INTERVAL_SECONDS.
        delay = self.quiet_until.get(run_id, 0.0) - self.loop.time()
        if delay > 0:
            self.loop.call_later(delay, self._start, run_id)
        else:
            self._start(run_id)

    def _start(self, run_id: int) -> None:
        self.loop.create_task(self._send(run_id))

    async def _send(self, run_id: int) -> None:
        from channels.layers import get_channel_layer

        with self.lock:
            seq = self.latest.pop(run_id)
        self.quiet_until[run_id] = self.loop.time() + WAKE_INTERVAL_SECONDS
        self.loop.call_later(WAKE_INTERVAL_SECONDS, self.quiet_until.pop, run_id, None)
        layer = get_channel_layer()
        if layer is None:
            return
        message = {"type": "run.event", "event": {"run": run_id, "seq": seq}}
        try:
            await layer.group_send(run_group(run_id), message)
        except Exception as exc:
            logger.warning("could not wake the pages of run %s at #%s: %s", run_id, seq, exc)
