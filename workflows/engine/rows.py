"""The step-row statements every step pays for, written in SQL.

A step takes a handful of statements on each transition, and compiling each through the
ORM would cost more than running it. They live here, built once from the model's fields
and run through the connection's cursor; values go in through the fields' own preparation
and come out as instances through `smartspec.model_rows.ModelRows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from smartspec.model_rows import ModelRows
from workflows.models import Step

_STEPS = ModelRows(Step)
_TABLE = _STEPS.table
_COLUMNS = _STEPS.columns()
_BY_NAME = _STEPS.by_name


def _fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall()


def _select(sql: str, params: Sequence[Any]) -> list[Step]:
    return _STEPS.instances(transaction.get_connection(), _fetch(sql, params))


def steps_where(condition: str, params: Sequence[Any], *, order: str = "position, id") -> list[Step]:
    """Steps matching an SQL condition written by this package (never from input)."""
    return _select(f"SELECT {_COLUMNS} FROM {_TABLE} WHERE {condition} ORDER BY {order}", params)


def step_if(pk: int, status: str) -> Step | None:
    """The step when it still has `status`, else None."""
    found = steps_where("id = %s AND status = %s", [pk, status], order="id")
    return found[0] if found else None


def pending_steps(run_id: int, keys: Sequence[str], *, waiting_for_slot: int) -> list[Step]:
    """Pending steps of the run with these keys, and the first `waiting_for_slot` pending
    steps already marked ready (they wait for a free slot): one statement for both."""
    selects, params = [], []
    if keys:
        marks = ", ".join(["%s"] * len(keys))
        selects.append(
            f"SELECT {_COLUMNS} FROM {_TABLE} WHERE run_id = %s AND status = 'pending' "
            f'AND "key" IN ({marks})'
        )
        params += [run_id, *keys]
    if waiting_for_slot:
        selects.append(
            f"SELECT * FROM (SELECT {_COLUMNS} FROM {_TABLE} WHERE run_id = %s AND status = 'pending' "
            "AND ready = %s ORDER BY position, id LIMIT %s) AS waiting"
        )
        params += [run_id, True, waiting_for_slot]
    if not selects:
        return []
    found = {step.pk: step for step in _select(" UNION ALL ".join(selects), params)}
    return sorted(found.values(), key=lambda step: (step.position, step.pk))


def branch_counts(group_pk: int) -> dict[str, int]:
    """How many branches of a fan-out group are in each status."""
    sql = f"SELECT status, COUNT(*) FROM {_TABLE} WHERE parent_id = %s GROUP BY status"
    return dict(_fetch(sql, [group_pk]))


def open_statuses(run_id: int) -> set[str]:
    """The statuses of the run's steps that are not finished yet."""
    sql = f"SELECT DISTINCT status FROM {_TABLE} WHERE run_id = %s AND status IN (%s, %s, %s, %s)"
    return {status for (status,) in _fetch(sql, [run_id, *Step.OPEN])}


def active_count(run_id: int) -> int:
    """Steps holding one of the run's slots: queued or running, fan-out groups excepted."""
    sql = f"SELECT COUNT(*) FROM {_TABLE} WHERE run_id = %s AND status IN (%s, %s) AND for_each IS NULL"
    return int(_fetch(sql, [run_id, Step.Status.QUEUED, Step.Status.RUNNING])[0][0])


def step_update(pk: int, values: dict[str, Any], **expect: Any) -> bool:
    """UPDATE one step row where its columns still hold `expect`; True when it did."""
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(*step_update_statement(pk, values, **expect))
        return cursor.rowcount == 1


def step_update_statement(pk: int, values: dict[str, Any], **expect: Any) -> tuple[str, list[Any]]:
    """The SQL and parameters of `step_update`, for a caller that runs it with more."""
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
    return f"UPDATE {_TABLE} SET {', '.join(assignments)} WHERE {' AND '.join(conditions)}", params
