"""Tags for starting runs and recording manual checks from the pages."""

from __future__ import annotations

from typing import Any

from django import template

from workflows.domain.verification import TaskResult
from workflows.models import Project, Run
from workflows.services.manual_checks import is_manual_only
from workflows.services.runs import active_run as _active_run
from workflows.services.template_lookups import template_version_for

register = template.Library()


@register.simple_tag
def active_run(project: Project, spec_id: str, workflow: str = "autopilot") -> Run | None:
    """The run of `workflow` on the spec still queued, running or waiting, if any."""
    return _active_run(project, spec_id or "", workflow or "autopilot")


@register.simple_tag
def autopilot_settings(project: Project) -> dict[str, Any]:
    """The autopilot template's own turn limit and mode: the start form's defaults."""
    version = template_version_for(project, "autopilot")
    stored = version.definition if version is not None else {}
    return {"max_iterations": stored.get("max_iterations", 10), "mode": stored.get("mode", "auto")}


@register.filter
def manual_only(task: TaskResult) -> bool:
    """Only a person can check this task (its hooks are ui hooks), checked or not yet."""
    return is_manual_only(task)
