from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import template
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext, pgettext_lazy

from workflows.domain.durations import format_duration
from workflows.domain.texts import Code, Text
from workflows.engine.usage import usd

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
    "stopped": "warn",
    "NOT_STARTED": "muted",
}


# What a status badge says: the status in plain words (the API and the events keep the
# machine name, which the pages show on hover), translated for other languages.
STATUS_LABEL = {
    "queued": pgettext_lazy("status", "queued"),
    "running": pgettext_lazy("status", "running"),
    "waiting": pgettext_lazy("status", "waiting"),
    "succeeded": pgettext_lazy("status", "succeeded"),
    "failed": pgettext_lazy("status", "failed"),
    "cancelled": pgettext_lazy("status", "cancelled"),
    "stopped": pgettext_lazy("status", "stopped"),
    "pending": pgettext_lazy("status", "pending"),
    "skipped": pgettext_lazy("status", "skipped"),
    "approved": pgettext_lazy("status", "approved"),
    "rejected": pgettext_lazy("status", "rejected"),
    "verified": pgettext_lazy("status", "verified"),
    "not_verified": pgettext_lazy("status", "not verified"),
    "missing_evidence": pgettext_lazy("status", "no evidence"),
    "invalid_evidence": pgettext_lazy("status", "broken evidence"),
    "invalid_scope": pgettext_lazy("status", "outside the workspace"),
    "needs_manual": pgettext_lazy("status", "needs a manual check"),
    "NOT_STARTED": pgettext_lazy("status", "not started"),
    "IN_PROGRESS": pgettext_lazy("status", "in progress"),
    "COMPLETED": pgettext_lazy("status", "all tasks verified"),
    "satisfied": pgettext_lazy("status", "satisfied"),
    "not_satisfied": pgettext_lazy("status", "not satisfied"),
}

# The development loop's workflows (and the built-in templates) in words.
WORKFLOW_LABEL = {
    "generate_spec": pgettext_lazy("workflow", "write the spec"),
    "generate_plan": pgettext_lazy("workflow", "write the plan"),
    "generate_tasks": pgettext_lazy("workflow", "write the tasks"),
    "add_evidence_hooks": pgettext_lazy("workflow", "add evidence hooks"),
    "fix_evidence_hooks": pgettext_lazy("workflow", "fix the evidence hooks"),
    "implement_tasks": pgettext_lazy("workflow", "implement the tasks"),
    "sync_tasks_checkboxes": pgettext_lazy("workflow", "sync the checkboxes"),
    "verify_tasks_progress": pgettext_lazy("workflow", "verify the tasks"),
    "generate_tests": pgettext_lazy("workflow", "write the tests"),
    "test_suite_runner": pgettext_lazy("workflow", "run the tests"),
    "quality_gate": pgettext_lazy("workflow", "check the quality gate"),
    "docs_generator": pgettext_lazy("workflow", "write the docs"),
    "done": pgettext_lazy("workflow", "nothing left to do"),
    "autopilot": pgettext_lazy("workflow", "autopilot"),
    "development-loop": pgettext_lazy("workflow", "one turn of the loop"),
    "verify-and-sync": pgettext_lazy("workflow", "verify and sync"),
}

# What the built-in templates do, in the reader's language (a team's own templates keep
# the description their author wrote).
WORKFLOW_DESCRIPTION = {
    "autopilot": pgettext_lazy(
        "workflow",
        "Repeat: read the spec's status, run the workflow it needs next, until the spec is "
        "done, a gate waits, a step fails, or the turn limit is reached.",
    ),
    "development-loop": pgettext_lazy(
        "workflow", "One turn of the development loop: read the status, then run the workflow it recommends."
    ),
    "verify-and-sync": pgettext_lazy(
        "workflow", "Verify the spec's tasks against the workspace, ask a reviewer, then sync the checkboxes."
    ),
}

# Step kinds in words.
KIND_LABEL = {
    "status": pgettext_lazy("step kind", "read the status"),
    "verify_tasks": pgettext_lazy("step kind", "verify the tasks"),
    "sync_tasks": pgettext_lazy("step kind", "sync the checkboxes"),
    "quality_gate": pgettext_lazy("step kind", "quality gate"),
    "agent": pgettext_lazy("step kind", "AI agent"),
    "shell": pgettext_lazy("step kind", "command"),
    "approval": pgettext_lazy("step kind", "approval"),
    "noop": pgettext_lazy("step kind", "join"),
}


@register.filter
def status_label(status: str) -> str:
    return str(STATUS_LABEL.get(str(status), status))


@register.filter
def workflow_label(name: str) -> str:
    return str(WORKFLOW_LABEL.get(str(name), name))


@register.filter
def kind_label(kind: str) -> str:
    return str(KIND_LABEL.get(str(kind), kind))


@register.filter
def workflow_description(template: Any) -> str:
    if getattr(template, "builtin", False) and template.name in WORKFLOW_DESCRIPTION:
        return str(WORKFLOW_DESCRIPTION[template.name])
    return str(getattr(template, "description", ""))


def _named(label: str, name: str) -> SafeString:
    if label == name:
        return conditional_escape(name)
    return format_html('<span class="named" title="{}">{}</span>', name, label)


@register.filter
def status_named(status: str) -> SafeString:
    """The status in words, its machine name on hover."""
    return _named(status_label(status), str(status))


@register.filter
def workflow_named(name: str) -> SafeString:
    """A workflow in words, its machine name on hover."""
    return _named(workflow_label(name), str(name))


@register.filter
def kind_named(kind: str) -> SafeString:
    return _named(kind_label(kind), str(kind))


@register.filter
def in_language(text: object) -> object:
    """A sentence of the domain (workflows.domain.texts) in the reader's language: its
    template translated (context "spec"), then filled with its values, each translated
    the same way. Anything else comes back as it is."""
    if isinstance(text, Code):
        return status_label(text) if str(text) in STATUS_LABEL else workflow_label(text)
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
    s_unit = pgettext("duration unit: seconds", "s")
    if seconds < 10:
        return f"{seconds:.1f}{s_unit}"
    text = format_duration(seconds)
    if s_unit == "s":
        return text
    m_unit, h_unit = pgettext("duration unit: minutes", "m"), pgettext("duration unit: hours", "h")
    return text.replace("s", s_unit).replace("m", m_unit).replace("h", h_unit)


@register.filter
def changed_totals(files: list[dict[str, Any]]) -> dict[str, int]:
    """How many files a diff changed, and its lines added and deleted in all."""
    return {
        "files": len(files),
        "additions": sum(f["additions"] for f in files),
        "deletions": sum(f["deletions"] for f in files),
    }


@register.filter
def money(amount: Decimal | None) -> str:
    """A cost in USD ($0.50), or "—" when it is unknown (never $0 for "not known")."""
    return "—" if amount is None else usd(Decimal(amount))


@register.filter
def tokens(count: int | None) -> str:
    return "—" if count is None else f"{int(count):,}"


@register.simple_tag
def status_labels() -> dict[str, str]:
    """Every status in words, for the run page's script (live events)."""
    return {name: str(label) for name, label in STATUS_LABEL.items()}


@register.filter
def percent(part: float, whole: float) -> int:
    return int(round(100 * part / whole)) if whole else 0


@register.filter
def step_summary(step: Any) -> str:
    """One line saying what a step produced, per kind; the full output sits behind it."""
    out = step.output or {}
    if step.kind == "status" and out.get("recommendation"):
        rec = out["recommendation"]
        return _("next: %(workflow)s") % {"workflow": workflow_label(rec.get("workflow", ""))}
    if step.kind == "verify_tasks" and "total" in out:
        return ngettext(
            "%(verified)s of %(total)s task verified",
            "%(verified)s of %(total)s tasks verified",
            out["total"],
        ) % {"verified": out.get("verified", 0), "total": out["total"]}
    if step.kind == "sync_tasks" and "flipped" in out:
        if not out["flipped"]:
            return _("no checkbox to change")
        return _("changed the checkboxes of %(tasks)s") % {"tasks": ", ".join(out["flipped"])}
    if step.kind == "agent" and out.get("merge_conflicts"):
        return _("merge conflict in %(files)s") % {"files": ", ".join(out["merge_conflicts"])}
    if step.kind == "agent" and out.get("artefact"):
        return _("wrote %(file)s") % {"file": out["artefact"]}
    if step.kind == "quality_gate" and "criteria" in out:
        failed = [c["name"] for c in out["criteria"] if not c.get("passed")]
        return _("passed") if not failed else _("failed: %(criteria)s") % {"criteria": ", ".join(failed)}
    if "exit_code" in out:
        return _("exit code %(code)s") % {"code": out["exit_code"]}
    if step.kind == "approval" and out.get("rework"):
        return _("rejected: sent back to the agent as %(step)s") % {"step": out["rework"]}
    if step.kind == "approval" and out.get("decision"):
        return status_label(out["decision"])
    if "branches" in out:
        return _("%(succeeded)s of %(branches)s branches succeeded") % {
            "succeeded": out.get("succeeded", 0),
            "branches": out["branches"],
        }
    return ""


# Names of the fields steps put in their output, in words.
OUTPUT_LABEL = {
    "report": pgettext_lazy("output", "report"),
    "total": pgettext_lazy("output", "tasks"),
    "checked": pgettext_lazy("output", "checked"),
    "verified": pgettext_lazy("output", "verified"),
    "by_status": pgettext_lazy("output", "by status"),
    "statuses": pgettext_lazy("output", "each task"),
    "checked_not_verified": pgettext_lazy("output", "checked but not verified"),
    "verified_not_checked": pgettext_lazy("output", "verified but unchecked"),
    "flipped": pgettext_lazy("output", "checkboxes changed"),
    "diff": pgettext_lazy("output", "changes"),
    "passed": pgettext_lazy("output", "passed"),
    "criteria": pgettext_lazy("output", "criteria"),
    "exit_code": pgettext_lazy("output", "exit code"),
    "artefact": pgettext_lazy("output", "wrote"),
    "recommendation": pgettext_lazy("output", "next step"),
    "status": pgettext_lazy("output", "status"),
    "exists": pgettext_lazy("output", "the spec exists"),
    "spec_id": pgettext_lazy("output", "spec"),
    "decision": pgettext_lazy("output", "decision"),
    "outcome": pgettext_lazy("output", "outcome"),
    "branches": pgettext_lazy("output", "branches"),
    "merge_conflicts": pgettext_lazy("output", "merge conflicts"),
    "succeeded": pgettext_lazy("output", "succeeded"),
    "failed": pgettext_lazy("output", "failed"),
    "item": pgettext_lazy("output", "item"),
    "reason": pgettext_lazy("output", "reason"),
    "max_iterations": pgettext_lazy("output", "at most this many turns"),
    "mode": pgettext_lazy("output", "mode"),
    "gate": pgettext_lazy("output", "gate"),
    "review": pgettext_lazy("output", "review"),
    "merge": pgettext_lazy("output", "merged"),
    "rework": pgettext_lazy("output", "rework step"),
    "next_review": pgettext_lazy("output", "next review"),
    "usage": pgettext_lazy("output", "usage"),
    "input_tokens": pgettext_lazy("output", "input tokens"),
    "output_tokens": pgettext_lazy("output", "output tokens"),
    "cost_usd": pgettext_lazy("output", "cost (USD)"),
    "reported": pgettext_lazy("output", "reported by the agent"),
}

# The titles the built-in workflows give their gates, in the reader's language.
GATE_TITLE = {
    "Sync the checkboxes of tasks.md with the verification?": pgettext_lazy(
        "gate", "Sync the checkboxes of tasks.md with the verification?"
    ),
}
_AGENT_GATE = re.compile(r"^Let the agent run (?P<workflow>[a-z_]+) on (?P<spec>\S+)\?$")
_REVIEW_GATE = re.compile(
    r"^Review what the agent did \((?P<workflow>[a-z_]+)\) on (?P<spec>\S+) and merge it\?$"
)


@register.filter
def gate_title(title: str) -> str:
    """A gate's title: the built-in ones translated, a template's own as its author wrote it."""
    title = str(title)
    if title in GATE_TITLE:
        return str(GATE_TITLE[title])
    match = _AGENT_GATE.match(title)
    if match:
        return pgettext("gate", "Let the agent %(workflow)s on %(spec)s?") % {
            "workflow": workflow_label(match["workflow"]),
            "spec": match["spec"],
        }
    match = _REVIEW_GATE.match(title)
    if match:
        return pgettext("gate", "Review what the agent did (%(workflow)s) on %(spec)s and merge it?") % {
            "workflow": workflow_label(match["workflow"]),
            "spec": match["spec"],
        }
    return title


def _key_label(key: Any, *, humanize: bool) -> str:
    if key in OUTPUT_LABEL:
        return str(OUTPUT_LABEL[key])
    return str(key).replace("_", " ") if humanize else str(key)


def readable(value: Any, key: Any = None) -> SafeString:
    """A value of a step's output (or a run's params) as words: never a Python repr."""
    if value is None or value == "":
        return SafeString("—")
    if isinstance(value, bool):
        return conditional_escape(_("yes") if value else _("no"))
    if isinstance(value, (int, float)):
        return conditional_escape(str(value))
    if isinstance(value, str):
        if "\n" in value or len(value) > 300:
            return format_html("<pre>{}</pre>", value if len(value) <= 4000 else value[:4000] + "…")
        if value in STATUS_LABEL:
            return status_named(value)
        return conditional_escape(value)
    if isinstance(value, dict):
        if key == "recommendation" and "workflow" in value:
            reason = in_language(value.get("reason", ""))
            named = workflow_named(value["workflow"])
            return format_html("{} — {}", named, reason) if reason else named
        if key == "review" and "step" in value:  # a review gate's snapshot; its page has the rest
            return format_html(
                "<code>{}</code> · {} · {}",
                value["step"],
                ngettext("%(n)s file changed", "%(n)s files changed", len(value.get("files") or []))
                % {"n": len(value.get("files") or [])},
                _("%(verified)s of %(total)s tasks verified")
                % {"verified": value.get("verified", 0), "total": value.get("total", 0)},
            )
        if key == "merge" and "commit" in value:  # what an approved review merged
            return format_html(
                "<code>{}</code> → <code>{}</code>", value.get("base_branch", ""), str(value["commit"])[:10]
            )
        if "name" in value and "passed" in value:  # a quality gate criterion
            verdict = _("passed") if value["passed"] else _("failed")
            reason = value.get("reason", "")
            return format_html("{}: {}{}", value["name"], verdict, f" — {reason}" if reason else "")
        if key == "status" and "implementation_status" in value:
            tasks = value.get("tasks") or {}
            return format_html(
                "{} · {}",
                status_named(value["implementation_status"]),
                _("%(verified)s of %(total)s tasks verified")
                % {"verified": tasks.get("verified", 0), "total": tasks.get("total", 0)},
            )
        if not value:
            return conditional_escape(_("none"))
        return format_html_join(
            "; ",
            "{}: {}",
            (
                (
                    status_named(k) if k in STATUS_LABEL else _key_label(k, humanize=key is None),
                    readable(v, k),
                )
                for k, v in value.items()
            ),
        )
    if isinstance(value, (list, tuple)):
        if not value:
            return conditional_escape(_("none"))
        if all(not isinstance(v, (dict, list, tuple)) for v in value):
            return format_html_join(", ", "{}", ((readable(v),) for v in value))
        return format_html(
            '<ul class="plain-list">{}</ul>',
            format_html_join("", "<li>{}</li>", ((readable(v),) for v in value)),
        )
    return conditional_escape(str(value))


@register.filter(name="readable")
def readable_filter(value: Any) -> SafeString:
    return readable(value)


@register.filter
def output_rows(output: Any) -> list[tuple[str, str, SafeString]]:
    """(machine name, label, value in words) for each field of a step's output."""
    if not isinstance(output, dict):
        return []
    return [
        (str(k), _key_label(k, humanize=True), readable(v, k))
        for k, v in output.items()
        if k != "output_tail"
    ]


@register.simple_tag
def spec_where(status: Any, recommendation: Any, testid: str = "where") -> SafeString:
    """Where a spec stands, in one phrase that never contradicts itself: what the evidence
    shows, then the next step ("all tasks verified — next: run the tests"). The machine
    names (implementation status, workflow) are on hover."""
    impl = str(status.implementation_status)
    workflow = str(recommendation.workflow)
    if recommendation.done:
        phrase, tone = _("done: nothing left to do"), "ok"
    else:
        if impl == "COMPLETED":
            state = _("all tasks verified")
        elif impl == "IN_PROGRESS":
            state = _("in progress: %(verified)s of %(total)s tasks verified") % {
                "verified": status.tasks_verified,
                "total": status.tasks_total,
            }
        elif status.tasks_total:
            state = _("not started: none of %(total)s tasks verified") % {"total": status.tasks_total}
        else:
            state = _("not started")
        phrase = _("%(state)s — next: %(step)s") % {"state": state, "step": workflow_label(workflow)}
        tone = "warn" if str(recommendation.priority) == "high" else "info"
    return format_html(
        '<span class="where where-{}" title="{} → {}" data-testid="{}" data-workflow="{}">{}</span>',
        tone,
        impl,
        workflow,
        testid,
        workflow,
        phrase,
    )
