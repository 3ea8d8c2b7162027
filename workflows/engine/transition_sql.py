"""The statements of a step transition, in SQL: the step row's compare-and-set, the reads
of the step to claim, of the successors to start and of a fan-out's slots and branches,
and the event with its run's next sequence number and the step's checkpoint.

Why SQL, and only here: every step pays for these on every transition, and the ORM's
query compiler costs more than the database takes to answer them — a `Step.objects.filter()`
cost 0.9 ms of Python where the same statement through the cursor took 0.05 ms, which is
how a chain step got to 0.58 ms on SQLite (docs/benchmarks.md, "Durable engine"); with
just the fan-out's two counts through the ORM, a for_each item cost the worker cluster
7.03 ms of CPU instead of 5.33 in the same run. Everything else in the engine goes
through the ORM; outside it only the two statements every API read pays are SQL
(`accounts.services.token_authenticate`, `workflows/api/run_cache.py`), for their figures
in docs/benchmarks.md ("REST API").
Table and column names come from the models, never from input; values go in through the
fields' own preparation and rows come back as instances through the ORM's converters
(`smartspec.model_rows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from smartspec.model_rows import ModelRows
from workflows.models import Checkpoint, Event, Run, Step

_STEPS = ModelRows(Step)
_STEP = _STEPS.table
_COLUMNS = _STEPS.columns()
_BY_NAME = _STEPS.by_name


def _steps(sql: str, params: Sequence[Any]) -> list[Step]:
    connection = transaction.get_connection()
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return _STEPS.instances(connection, cursor.fetchall())


def step_if(pk: int, status: str) -> Step | None:
    """The step when it still has `status`, else None."""
    found = _steps(f"SELECT {_COLUMNS} FROM {_STEP} WHERE id = %s AND status = %s", [pk, status])
    return found[0] if found else None


def pending_steps(run_id: int, keys: Sequence[str], *, waiting_for_slot: int) -> list[Step]:
    """Pending steps of the run with these keys, and the first `waiting_for_slot` pending
    steps already marked ready (they wait for a free slot): one statement for both."""
    selects, params = [], []
    if keys:
        marks = ", ".join(["%s"] * len(keys))
        selects.append(
            f"SELECT {_COLUMNS} FROM {_STEP} WHERE run_id = %s AND status = 'pending' "
            f'AND "key" IN ({marks})'
        )
        params += [run_id, *keys]
    if waiting_for_slot:
        selects.append(
            f"SELECT * FROM (SELECT {_COLUMNS} FROM {_STEP} WHERE run_id = %s AND status = 'pending' "
            "AND ready = %s ORDER BY position, id LIMIT %s) AS waiting"
        )
        params += [run_id, True, waiting_for_slot]
    if not selects:
        return []
    found = {step.pk: step for step in _steps(" UNION ALL ".join(selects), params)}
    return sorted(found.values(), key=lambda step: (step.position, step.pk))


def active_count(run_id: int) -> int:
    """Steps holding one of the run's slots: queued or running, fan-out groups excepted."""
    sql = f"SELECT COUNT(*) FROM {_STEP} WHERE run_id = %s AND status IN (%s, %s) AND for_each IS NULL"
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(sql, [run_id, Step.Status.QUEUED, Step.Status.RUNNING])
        return int(cursor.fetchone()[0])


def branch_counts(group_pk: int) -> dict[str, int]:
    """How many branches of a fan-out group are in each status."""
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            f"SELECT status, COUNT(*) FROM {_STEP} WHERE parent_id = %s GROUP BY status", [group_pk]
        )
        return dict(cursor.fetchall())


def step_update_statement(pk: int, values: dict[str, Any], **expect: Any) -> tuple[str, list[Any]]:
    """UPDATE one step row where its columns still hold `expect`, as SQL and parameters
    for `event_insert` to run."""
    connection = transaction.get_connection()
    assignments, params = [], []
    for name, value in values.items():
        field = _BY_NAME[name]
        assignments.append(f'"{field.column}" = %s')
        params.append(field.get_db_prep_save(value, connection))
    conditions = ["id = %s"]
    params.append(pk)
    for name, value in expect.items():
        field = _BY_NAME[name]
        conditions.append(f'"{field.column}" = %s')
        params.append(field.get_db_prep_save(value, connection))
    return f"UPDATE {_STEP} SET {', '.join(assignments)} WHERE {' AND '.join(conditions)}", params


def event_insert(
    change: tuple[str, list[Any]] | None,
    *,
    run_id: int,
    row: Sequence[Any],
    at: Any,
    checkpoint: tuple[int | None, str] | None,
) -> tuple[int, int] | None:
    """Run `change` (an UPDATE of one row) and, only when it changed that row, take the
    run's next sequence number and insert the event `row` (type, step id, data as JSON)
    created `at`, and with `checkpoint` (step id, state as JSON) the checkpoint taken at
    it. Returns the event's id and sequence number, or None when nothing was written.

    On PostgreSQL this is one statement (one round trip instead of three); on SQLite, where
    a statement costs no round trip, they run one after another.
    """
    connection = transaction.get_connection()
    saved = [] if checkpoint is None else [run_id, *checkpoint, at]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if change is None:
                assert checkpoint is None, "a checkpoint belongs to a step's change"
                cursor.execute(_APPEND_SQL, [run_id, run_id, *row, at])
            else:
                sql = _APPEND_AFTER_SQL.format(change=change[0], checkpoint=_CHECKPOINT_CTE if saved else "")
                cursor.execute(sql, [*change[1], run_id, run_id, *row, at, *saved])
            found = cursor.fetchone()
            return None if found is None else (found[0], found[1])
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
    return event_id, seq


_RUN, _EVENT, _CHECKPOINT = Run._meta.db_table, Event._meta.db_table, Checkpoint._meta.db_table
# The counter row on the run is bumped first (`UPDATE … RETURNING`), so concurrent writers
# to one run queue up on that row and sequences come out gapless and unique.
_NEXT_SEQ_SQL = f"UPDATE {_RUN} SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq"
_INSERT_SQL = (
    f"INSERT INTO {_EVENT} (run_id, seq, type, step_id, data, created_at) "
    "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id"
)
_APPEND_SQL = (
    f"WITH bumped AS ({_NEXT_SEQ_SQL}) "
    f"INSERT INTO {_EVENT} (run_id, seq, type, step_id, data, created_at) "
    "SELECT %s, last_seq, %s, %s, %s::jsonb, %s FROM bumped RETURNING id, seq"
)
# The change's RETURNING gates the bump: no changed row, no sequence number, no event.
_APPEND_AFTER_SQL = (
    "WITH changed AS ({change} RETURNING 1), "
    f"bumped AS (UPDATE {_RUN} SET last_seq = last_seq + 1 "
    "WHERE id = %s AND EXISTS (SELECT 1 FROM changed) RETURNING last_seq), "
    f"appended AS (INSERT INTO {_EVENT} (run_id, seq, type, step_id, data, created_at) "
    "SELECT %s, last_seq, %s, %s, %s::jsonb, %s FROM bumped RETURNING id, seq){checkpoint} "
    "SELECT id, seq FROM appended"
)
_CHECKPOINT_CTE = (
    f", checkpointed AS (INSERT INTO {_CHECKPOINT} (run_id, seq, step_id, state, created_at) "
    "SELECT %s, seq, %s, %s::jsonb, %s FROM appended)"
)
_CHECKPOINT_SQL = (
    f"INSERT INTO {_CHECKPOINT} (run_id, seq, step_id, state, created_at) VALUES (%s, %s, %s, %s, %s)"
)
