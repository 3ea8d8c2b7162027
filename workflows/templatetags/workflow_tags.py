from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template
from django.utils.translation import pgettext, pgettext_lazy

from workflows.domain.texts import Code, Text
from workflows.engine.durations import format_duration

register = template.Library()

STATUS_CLASS = {
    "succeeded": "ok",
    "approved": "ok",
    "verified": "ok",
    "COMPLETED": "ok",
    "done": "ok",
    "failed": "bad",
    "rejected": "bad",
    "not_verified": "bad",
    "invalid_evidence": "bad",
    "invalid_scope": "bad",
    "running": "info",
    "queued": "info",
    "IN_PROGRESS": "info",
    "waiting": "warn",
    "pending": "muted",
    "needs_manual": "warn",
    "missing_evidence": "warn",
    "skipped": "muted",
    "cancelled": "muted",
    "NOT_STARTED": "muted",
}


# What a status badge says: the status itself in English (as the API and the events name
# it), translated for other languages.
STATUS_LABEL = {
    "queued": pgettext_lazy("status", "queued"),
    "running": pgettext_lazy("status", "running"),
    "waiting": pgettext_lazy("status", "waiting"),
    "succeeded": pgettext_lazy("status", "succeeded"),
    "failed": pgettext_lazy("status", "failed"),
    "cancelled": pgettext_lazy("status", "cancelled"),
    "pending": pgettext_lazy("status", "pending"),
    "skipped": pgettext_lazy("status", "skipped"),
    "approved": pgettext_lazy("status", "approved"),
    "rejected": pgettext_lazy("status", "rejected"),
    "verified": pgettext_lazy("status", "verified"),
    "not_verified": pgettext_lazy("status", "not_verified"),
    "missing_evidence": pgettext_lazy("status", "missing_evidence"),
    "invalid_evidence": pgettext_lazy("status", "invalid_evidence"),
    "invalid_scope": pgettext_lazy("status", "invalid_scope"),
    "needs_manual": pgettext_lazy("status", "needs_manual"),
    "NOT_STARTED": pgettext_lazy("status", "NOT_STARTED"),
    "IN_PROGRESS": pgettext_lazy("status", "IN_PROGRESS"),
    "COMPLETED": pgettext_lazy("status", "COMPLETED"),
    "satisfied": pgettext_lazy("status", "satisfied"),
    "not_satisfied": pgettext_lazy("status", "not_satisfied"),
}


@register.filter
def status_label(status: str) -> str:
    return str(STATUS_LABEL.get(str(status), status))


@register.filter
def in_language(text: object) -> object:
    """A sentence of the domain (workflows.domain.texts) in the reader's language: its
    template translated (context "spec"), then filled with its values, each translated
    the same way. Anything else comes back as it is."""
    if isinstance(text, Code):
        return status_label(text)
    if not isinstance(text, Text):
        return text
    values = {name: in_language(value) for name, value in text.params.items()}
    return pgettext("spec", text.template).format(**values)


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


@register.filter
def step_summary(step: Any) -> str:
    """One line saying what a step produced, per kind; the full output sits behind it."""
    out = step.output or {}
    if step.kind == "status" and out.get("recommendation"):
        rec = out["recommendation"]
        return f"next: {rec.get('workflow')} — {rec.get('reason', '')}"
    if step.kind == "verify_tasks" and "total" in out:
        return f"{out.get('verified', 0)} of {out['total']} tasks verified"
    if step.kind == "sync_tasks" and "flipped" in out:
        return f"flipped {', '.join(out['flipped'])}" if out["flipped"] else "nothing to flip"
    if step.kind == "agent" and out.get("artefact"):
        return f"wrote {out['artefact']}"
    if step.kind == "quality_gate" and "criteria" in out:
        failed = [c["name"] for c in out["criteria"] if not c.get("passed")]
        return "passed" if not failed else f"failed: {', '.join(failed)}"
    if "exit_code" in out:
        return f"exit code {out['exit_code']}"
    if step.kind == "approval" and out.get("decision"):
        return f"{out['decision']}: {out.get('outcome', '')}"
    if "branches" in out:
        return f"{out.get('succeeded', 0)} of {out['branches']} branches succeeded"
    return ""
