"""The items a `for_each` step fans out over."""

from __future__ import annotations

from typing import Any

from workflows.models import Run, Step

MAX_ITEMS = 10_000


def resolve_items(run: Run, group: Step) -> tuple[list[Any], str]:
    """The items, or an error saying why there are none to have."""
    source = group.for_each
    if isinstance(source, list):
        items = source
    elif isinstance(source, str) and source.startswith("params."):
        name = source.removeprefix("params.")
        items = run.params.get(name)
        if not isinstance(items, list):
            return [], f"for_each: the run's params.{name} must be a list"
    elif source in ("tasks", "pending_tasks"):
        from workflows.engine.spec_access import task_ids

        try:
            items = task_ids(run, pending_only=source == "pending_tasks")
        except LookupError as exc:
            return [], f"for_each: {exc}"
    else:
        return [], f"for_each: cannot fan out over {source!r}"
    if len(items) > MAX_ITEMS:
        return [], f"for_each: {len(items)} items is more than the limit of {MAX_ITEMS}"
    return list(items), ""
