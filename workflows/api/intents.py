"""POST /intents: free text (English or Thai) → intent, spec id, confidence and action.

Without `execute` nothing happens: the answer says what would be done. With
`"execute": true` the action is performed under the caller's permissions in `project`:
a status is read (any role), a workflow is started (members and up). Edits to a spec are
only ever proposed.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from accounts.models import Role
from workflows.api.auth import caller
from workflows.api.errors import ApiError, error_responses
from workflows.api.projects import project_workspace, spec_summary, status_cache
from workflows.api.runs import run_detail, start_workflow
from workflows.api.schemas import IntentIn, IntentOut
from workflows.domain.intents import Intent, parse_intent
from workflows.models import Project
from workflows.selectors import get_project_for_user, require_role

router = Router(tags=["intents"])


@router.post(
    "",
    response={200: IntentOut, **error_responses(403, 404, 409, 503)},
    summary="Understand a request, and optionally carry it out",
)
def create_intent(request: HttpRequest, payload: IntentIn) -> Any:
    project = get_project_for_user(caller(request), payload.project) if payload.project else None
    known = _spec_ids(project) if project else None
    intent = parse_intent(payload.text, known_spec_ids=known)
    answer: dict[str, Any] = {
        **intent.as_dict(),
        "executed": False,
        "message": intent.action.description,
    }
    if payload.execute:
        answer.update(_execute(request, intent, project))
    return answer


def _execute(request: HttpRequest, intent: Intent, project: Project | None) -> dict[str, Any]:
    action = intent.action
    if action.kind in ("none", "propose_edit"):
        message = (
            "Nothing was done: the request was not understood."
            if action.kind == "none"
            else "Spec edits are proposed, never applied from a command; open the spec to edit."
        )
        return {"executed": False, "message": message}
    if project is None:
        raise _invalid("project", "Name the project to act in.")
    if action.kind == "show_status":
        return {"executed": True, "specs": _statuses(project, action.spec_id)}
    # start_workflow: the same rule as POST /runs.
    require_role(caller(request), project, Role.MEMBER)
    if not action.spec_id:
        raise _invalid("text", "Name the spec, e.g. spec-core-001-authentication.")
    run = start_workflow(request, project, action.workflow or "", action.spec_id, {})
    return {
        "executed": True,
        "message": f"Started {action.workflow} on {action.spec_id}: run {run.pk}.",
        "run": run_detail(run.pk, request),
    }


def _statuses(project: Project, spec_id: str | None) -> list[dict[str, Any]]:
    cache = status_cache(project)
    details = [cache.detail(spec_id)] if spec_id else cache.details()
    return [spec_summary(detail) for detail in details]


def _spec_ids(project: Project) -> tuple[str, ...]:
    return project_workspace(project).discover_specs().ids()


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, message, "invalid", [{"field": field, "message": message}])
