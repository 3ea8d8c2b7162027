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

from workflows.models import Checkpoint, Event, Run, Step

logger = logging.getLogger(__name__)


def event_append(
    *, run_id: int, type: str, data: dict[str, Any] | None = None, step: Step | None = None
) -> Event:
    """Append an event with the run's next sequence number. Call inside a transaction.

    The counter row on the run is bumped first (`UPDATE … RETURNING`), so concurrent writers
    to one run queue up on that row and sequences come out gapless and unique. This is the
    engine's hottest statement: it is written in SQL (one statement on PostgreSQL) rather
    than through the ORM.
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

    On PostgreSQL the change, the sequence number, the event and the checkpoint are one
    statement (one round trip instead of three); on SQLite, where a statement costs no
    round trip, they run one after another.
    """
    connection = transaction.get_connection()
    assert connection.in_atomic_block, "events are written in a transaction"
    payload = dict(data or {})
    if step is not None:
        payload.setdefault("key", step.key)
    now = timezone.now()
    step_pk = step.pk if step is not None else None
    row = [type, step_pk, json.dumps(payload)]
    at = connection.ops.adapt_datetimefield_value(now)
    saved = [] if checkpoint is None else [run_id, step_pk, json.dumps(checkpoint), at]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if change is None:
                assert checkpoint is None, "a checkpoint belongs to a step's change"
                cursor.execute(_APPEND_SQL, [run_id, run_id, *row, at])
            else:
                sql = _APPEND_AFTER_SQL.format(change=change[0], checkpoint=_CHECKPOINT_CTE if saved else "")
                cursor.execute(sql, [*change[1], run_id, run_id, *row, at, *saved])
            found = cursor.fetchone()
            if found is None:
                return None
            event_id, seq = found
        else:
            if change is not None:
                cursor.execute(*change)
                if cursor.rowcount != 1:
                    return None
            cursor.execute(_NEXT_SEQ_SQL, [run_id])
            seq = cursor.fetchone()[0]
            cursor.execute(_INSERT_SQL, [run_id, seq, *row, at])
            event_id = cursor.fetchone()[0]
            if saved:
                cursor.execute(_CHECKPOINT_SQL, [run_id, seq, *saved[1:]])
    event = Event(id=event_id, run_id=run_id, seq=seq, type=type, step=step, data=payload, created_at=now)
    if settings.REDIS_URL:
        transaction.on_commit(lambda: publish(event))
    return event


# Table names come from the models, never from input.
_RUN, _EVENT, _CHECKPOINT = Run._meta.db_table, Event._meta.db_table, Checkpoint._meta.db_table
_NEXT_SEQ_SQL = f"UPDATE {_RUN} SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq"  # noqa: S608
_INSERT_SQL = (
    f"INSERT INTO {_EVENT} (run_id, seq, type, step_id, data, created_at) "  # noqa: S608
    "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id"
)
_APPEND_SQL = (
    f"WITH bumped AS ({_NEXT_SEQ_SQL}) "  # noqa: S608
    f"INSERT INTO {_EVENT} (run_id, seq, type, step_id, data, created_at) "
    "SELECT %s, last_seq, %s, %s, %s::jsonb, %s FROM bumped RETURNING id, seq"
)
# The change's RETURNING gates the bump: no changed row, no sequence number, no event.
_APPEND_AFTER_SQL = (
    "WITH changed AS ({change} RETURNING 1), "  # noqa: S608
    f"bumped AS (UPDATE {_RUN} SET last_seq = last_seq + 1 "
    "WHERE id = %s AND EXISTS (SELECT 1 FROM changed) RETURNING last_seq), "
    f"appended AS (INSERT INTO {_EVENT} (run_id, seq, type, step_id, data, created_at) "
    "SELECT %s, last_seq, %s, %s, %s::jsonb, %s FROM bumped RETURNING id, seq){checkpoint} "
    "SELECT id, seq FROM appended"
)
_CHECKPOINT_CTE = (
    f", checkpointed AS (INSERT INTO {_CHECKPOINT} (run_id, seq, step_id, state, created_at) "  # noqa: S608
    "SELECT %s, seq, %s, %s::jsonb, %s FROM appended)"
)
_CHECKPOINT_SQL = (
    f"INSERT INTO {_CHECKPOINT} (run_id, seq, step_id, state, created_at) "  # noqa: S608
    "VALUES (%s, %s, %s, %s, %s)"
)


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
