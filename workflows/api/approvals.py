"""Approval gates.

GET  /approvals?status=pending     gates I may decide now (the default); with another
                                   status, my teams' gates in that status
GET  /approvals/{id}               one gate with its threaded history
POST /approvals/{id}/decisions     approve or reject, with a comment and the gate's form:
                                   invited approvers only (403), 409 once decided, 422 with
                                   field errors for a bad form
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from workflows.api.auth import caller
from workflows.api.errors import error_responses
from workflows.api.pagination import PageQuery, page_of
from workflows.api.schemas import DecisionIn, GateDetailOut, GatePageOut, GateStatus
from workflows.models import ApprovalGate
from workflows.selectors import gates_to_decide, gates_visible_to, get_gate_for_user
from workflows.services.approvals import approval_decide

router = Router(tags=["approvals"])


class GateFilters(PageQuery):
    status: GateStatus = "pending"


@router.get("", response={200: GatePageOut, **error_responses()}, summary="Gates")
def list_approvals(request: HttpRequest, filters: Query[GateFilters]) -> Any:
    if filters.status == ApprovalGate.Status.PENDING:
        gates = gates_to_decide(caller(request))
    else:
        gates = gates_visible_to(caller(request)).filter(status=filters.status)
    return page_of(gates.order_by("-created_at", "-id"), filters)


@router.get(
    "/{int:gate_id}",
    response={200: GateDetailOut, **error_responses(404)},
    summary="One gate with its history",
)
def get_approval(request: HttpRequest, gate_id: int) -> Any:
    return get_gate_for_user(caller(request), gate_id)


@router.post(
    "/{int:gate_id}/decisions",
    response={201: GateDetailOut, **error_responses(403, 404, 409, 503)},
    summary="Approve or reject",
)
def decide_approval(request: HttpRequest, gate_id: int, payload: DecisionIn) -> Any:
    gate = get_gate_for_user(caller(request), gate_id)
    gate = approval_decide(
        gate=gate,
        user=caller(request),
        verdict=payload.verdict,
        comment=payload.comment,
        form_data=payload.form,
        channel="api",
    )
    return Status(201, get_gate_for_user(caller(request), gate.pk))
