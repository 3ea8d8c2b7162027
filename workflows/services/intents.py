"""Free text → what it means → (optionally) carry it out.

The one place an intent is acted on: the command box (workflows.views.commands) and
POST /api/v1/intents (workflows.api.intents) both come here and only translate the outcome
or the RunError into a page message or a JSON answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User

from accounts.models import Role
from accounts.permissions import AnyUser, has_role
from workflows.domain.intents import Intent, IntentAction, parse_intent
from workflows.domain.layouts import discover_specs
from workflows.domain.status import SpecDetail
from workflows.domain.texts import Text
from workflows.domain.workspace import UnknownSpec
from workflows.models import ManualCheck, Project, Run
from workflows.services.errors import RunError
from workflows.services.runs import run_start, workflow_version
from workflows.specs import SpecsUnavailable, status_cache

# What the actions that do nothing answer when asked to be carried out.
NOT_DONE = {
    "none": "Nothing was done: the request was not understood.",
    "propose_edit": "Spec edits are proposed, never applied from a command; open the spec to edit.",
}


@dataclass(frozen=True)
class IntentOutcome:
    intent: Intent
    executed: bool
    message: str
    run: Run | None = None  # start_workflow: the run started
    specs: tuple[SpecDetail, ...] | None = None  # show_status: the specs asked about


def intent_parse(*, text: str, project: Project | None) -> Intent:
    """The intent of `text`; a project's spec ids let `core-001` expand to one of them."""
    known: list[str] = []
    if project is not None:
        try:
            known = [s.spec_id for s in discover_specs(status_cache(project).workspace).specs]
        except SpecsUnavailable:
            known = []
    return parse_intent(text, known_spec_ids=known)


def intent_execute(*, intent: Intent, project: Project | None, user: User, channel: str) -> IntentOutcome:
    """Carry out what the intent asks, under the user's permissions in `project`.

    A request that was not understood does nothing, and a spec edit is only ever proposed;
    both need no project. A status is read by any role; starting a workflow needs the
    member role and a spec id. A refusal raises RunError (its `code` says why, its `field`
    which input is to blame); a workspace that cannot be read raises SpecsUnavailable.
    """
    action = intent.action
    if action.kind in NOT_DONE:
        return IntentOutcome(intent, False, NOT_DONE[action.kind])
    if project is None:
        raise RunError(Text("Name the project to act in."), "invalid", field="project")
    if action.kind == "show_status":
        return IntentOutcome(intent, True, action.description, specs=_statuses(project, action.spec_id))
    _check_start(action, project, user)
    run = run_start(
        project=project,
        version=workflow_version(project, action.workflow or "", field="text"),
        spec_id=action.spec_id or "",
        started_by=user,
        channel=channel,
    )
    return IntentOutcome(
        intent, True, f"Started {action.workflow} on {action.spec_id}: run {run.pk}.", run=run
    )


def intent_can_start(intent: Intent, *, project: Project, user: AnyUser) -> bool:
    """Whether carrying out the intent would start a run (the command box's "Do it")."""
    if intent.action.kind != "start_workflow":
        return False
    try:
        _check_start(intent.action, project, user)
    except RunError:
        return False
    return True


def _check_start(action: IntentAction, project: Project, user: AnyUser) -> None:
    if not has_role(user, project.team_id, Role.MEMBER):
        raise RunError(Text("Starting a workflow needs the member role."), "forbidden")
    if action.needs_spec:
        raise RunError(Text("Name the spec to run it on, e.g. spec-core-001 or core-001."), field="text")


def _statuses(project: Project, spec_id: str | None) -> tuple[SpecDetail, ...]:
    cache = status_cache(project)
    if spec_id is None:
        return tuple(cache.details(ManualCheck.objects.by_spec(project)))
    try:
        return (cache.detail(spec_id, ManualCheck.objects.for_spec(project, spec_id)),)
    except UnknownSpec:
        raise RunError(Text("No spec {spec!r} in this project.", spec=spec_id), "not_found") from None
