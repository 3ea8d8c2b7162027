from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template

from workflows.engine.durations import format_duration

register = template.Library()

STATUS_CLASS = {
    "succeeded": "ok", "approved": "ok", "verified": "ok", "COMPLETED": "ok", "done": "ok",
    "failed": "bad", "rejected": "bad", "not_verified": "bad", "invalid_evidence": "bad",
    "invalid_scope": "bad",
    "running": "info", "queued": "info", "IN_PROGRESS": "info",
    "waiting": "warn", "pending": "muted", "needs_manual": "warn", "missing_evidence": "warn",
    "skipped": "muted", "cancelled": "muted", "NOT_STARTED": "muted",
}


@register.filter
def get_item(mapping: dict[Any, Any], key: Any) -> Any:
    return mapping.get(key) if mapping else None


@register.filter
def status_class(status: str) -> str:
    return STATUS_CLASS.get(str(status), "")


@register.filter
def duration(value: timedelta | float | None) -> str:
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 10:
        return f"{seconds:.1f}s"
    return format_duration(seconds)


@register.filter
def percent(part: float, whole: float) -> int:
    return int(round(100 * part / whole)) if whole else 0
