"""The command box and POST /api/v1/intents: free text → what it means → (optionally) do it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from accounts.models import Role
from accounts.permissions import has_role
from workflows.domain.intents import Intent, parse_intent
from workflows.models import Project, Run, WorkflowTemplate
from workflows.services.runs import RunError, run_start
from workflows.specs import SpecsUnavailable, status_cache


@dataclass(frozen=True)
class IntentOutcome:
    intent: Intent
    executed: bool
    run: Run | None = None
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.intent.as_dict(),
            "executed": self.executed,
            "run": self.run.pk if self.run else None,
            "message": self.message,
        }


def intent_parse(*, text: str, project: Project | None) -> Intent:
    known: list[str] = []
    if project is not None:
        try:
            known = [s.spec_id for s in status_cache(project).workspace.discover_specs().specs]
        except SpecsUnavailable:
            known = []
    return parse_intent(text, known_spec_ids=known)


def intent_execute(*, text: str, project: Project, user: AbstractBaseUser, channel: str) -> IntentOutcome:
    """Parse and carry out what the text asks, under the user's permissions.

    Starting a workflow needs the member role and a spec id; editing a spec is only ever
    proposed, never done; a status request is answered without a run.
    """
    intent = intent_parse(text=text, project=project)
    action = intent.action
    if action.kind != "start_workflow":
        return IntentOutcome(intent, False, message=action.description)
    if action.needs_spec:
        raise RunError("Name the spec to run it on, e.g. spec-core-001 or core-001.", "invalid")
    if not has_role(user, project.team_id, Role.MEMBER):
        raise RunError("Starting a workflow needs the member role.", "forbidden")
    template = WorkflowTemplate.objects.filter(name=action.workflow).first()
    if template is None or template.latest is None:
        raise RunError(f"The workflow {action.workflow!r} is not installed.", "not_found")
    run = run_start(
        project=project,
        version=template.latest,
        spec_id=action.spec_id or "",
        started_by=user,
        channel=channel,
    )
    return IntentOutcome(intent, True, run, f"Started {action.workflow} on {action.spec_id} (run {run.pk}).")
