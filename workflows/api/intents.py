"""POST /intents: free text (English or Thai) → intent, spec id, confidence and action.

Without `execute` nothing happens: the answer says what would be done. With
`"execute": true` the action is carried out by workflows.services.intents, the same as the
command box, under the caller's permissions in `project`: a status is read (any role), a
workflow is started (members and up). Edits to a spec are only ever proposed. A refusal
is a RunError, which the API's error handler answers as `{"detail", "code"}`.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from accounts.models import AuditEntry
from workflows.api.auth import caller
from workflows.api.errors import error_responses
from workflows.api.projects import project_workspace, spec_summary
from workflows.api.runs import run_detail
from workflows.api.schemas import IntentIn, IntentOut
from workflows.selectors import get_project_for_user
from workflows.services.intents import intent_execute, intent_parse

router = Router(tags=["intents"])


@router.post(
    "",
    response={200: IntentOut, **error_responses(403, 404, 409, 503)},
    summary="Understand a request, and optionally carry it out",
)
def create_intent(request: HttpRequest, payload: IntentIn) -> Any:
    project = get_project_for_user(caller(request), payload.project) if payload.project else None
    if project is not None:
        project_workspace(project)  # 409 when the workspace is outside the allowed roots
    intent = intent_parse(text=payload.text, project=project)
    if not payload.execute:
        return {**intent.as_dict(), "executed": False, "message": intent.action.description}
    outcome = intent_execute(
        intent=intent, project=project, user=caller(request), channel=AuditEntry.Channel.API
    )
    return {
        **intent.as_dict(),
        "executed": outcome.executed,
        "message": outcome.message,
        "run": run_detail(outcome.run.pk, request) if outcome.run else None,
        "specs": None if outcome.specs is None else [spec_summary(detail) for detail in outcome.specs],
    }
