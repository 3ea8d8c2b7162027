"""Approval pages: the inbox, one gate, and the signed link from the email."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.ratelimits import limit
from workflows.engine.reviews import review_detail
from workflows.models import ApprovalEntry, ApprovalGate
from workflows.selectors import gates_to_decide, gates_visible_to, get_gate_for_user
from workflows.services.approvals import (
    ApprovalError,
    approval_comment,
    approval_decide,
    blocked_self_approval,
    link_check,
    may_decide,
)
from workflows.templatetags.workflow_tags import in_language
from workflows.views.diffs import UNIFIED, diff_view, diff_view_links, files_for_page
from workflows.views.errors import refusal_text
from workflows.workspace_policy import WorkspaceNotAllowed, project_workspace_dir

LINK_PROBLEMS = {
    "forged": (
        gettext_lazy("This link is not valid"),
        gettext_lazy("It was not issued by SmartSpec Autopilot, or it was altered."),
    ),
    "expired": (
        gettext_lazy("This link has expired"),
        gettext_lazy("The deadline of the approval has passed."),
    ),
    "used": (
        gettext_lazy("This link was already used"),
        gettext_lazy("Each approval link works once. Sign in to see the gate."),
    ),
    "decided": (
        gettext_lazy("This approval is closed"),
        gettext_lazy("The gate was already decided; nothing more is needed."),
    ),
    "foreign": (
        gettext_lazy("This link belongs to someone else"),
        gettext_lazy("It was sent to another approver. Sign out, or decide from your own inbox."),
    ),
    "not_allowed": (gettext_lazy("You cannot decide this approval"), ""),
}


def gate_context(
    gate: ApprovalGate, user: Any, *, review: bool = False, view: str = UNIFIED
) -> dict[str, Any]:
    """What the gate partial shows: votes, history, form, and what this person may do; for
    a review gate, what it reviews (with `review`, the diff, unified or side by side as
    `view` says, and the merge check too)."""
    entries = list(gate.entries.select_related("user").order_by("created_at", "id"))
    approvals = [e for e in entries if e.kind == ApprovalEntry.Kind.APPROVE]
    voted = {e.user_id for e in entries if e.is_vote}
    invitations = list(gate.invitations.select_related("user").order_by("user__username"))
    can_vote = (
        gate.is_pending
        and user is not None
        and user.is_authenticated
        and user.pk not in voted
        and may_decide(gate, user)
    )
    needs = gate.step.needs
    inputs = list(gate.run.steps.filter(key__in=needs).values("key", "kind", "status", "output"))
    return {
        "gate": gate,
        "threads": [e for e in entries if e.reply_to_id is None],
        "replies": {e.pk: [r for r in entries if r.reply_to_id == e.pk] for e in entries},
        "approval_count": len(approvals),
        "invitations": invitations,
        "voted": voted,
        "can_vote": can_vote,
        "can_approve": can_vote and not blocked_self_approval(gate, user),
        "inputs": inputs,
        "checkbox_changes": checkbox_changes(inputs),
        "review": review_context(gate, live=review, view=view),
    }


def review_context(gate: ApprovalGate, *, live: bool, view: str = UNIFIED) -> dict[str, Any] | None:
    """A review gate's review (workflows.engine.reviews.review_detail), its files ready for
    the diff partial, unified or side by side (`view`); None for any other gate."""
    detail = review_detail(gate, live=live)
    if detail is not None:
        try:
            repo: Path | None = project_workspace_dir(gate.run.project)
        except WorkspaceNotAllowed:
            repo = None  # the diff is shown, lexed hunk by hunk; review_detail says why
        files_for_page(detail["files"], view, repo=repo)
    return detail


def checkbox_changes(inputs: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """What a sync after this gate would change in tasks.md, from the verification it
    decides on: each task whose checkbox disagrees with its evidence, before → after."""
    changes: list[dict[str, str]] = []
    for step in inputs:
        output = step.get("output") or {}
        statuses = output.get("statuses")
        if not isinstance(statuses, dict):
            statuses = {}
        for task in output.get("checked_not_verified") or []:
            status = str(statuses.get(task, ""))
            changes.append({"task": str(task), "before": "☑", "after": "☐", "status": status})
        for task in output.get("verified_not_checked") or []:
            changes.append({"task": str(task), "before": "☐", "after": "☑", "status": "verified"})
    return changes


@login_required
@require_http_methods(["GET"])
def inbox(request: HttpRequest) -> HttpResponse:
    to_decide = gates_to_decide(request.user).order_by("deadline", "created_at")
    recent = gates_visible_to(request.user).exclude(status=ApprovalGate.Status.PENDING)[:20]
    return render(request, "workflows/approvals.html", {"to_decide": to_decide, "recent": recent})


@login_required
@require_http_methods(["GET", "POST"])
def detail(request: HttpRequest, gate_id: int) -> HttpResponse:
    gate = get_gate_for_user(request.user, gate_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        errors = _handle_post(request, gate, channel=ApprovalEntry.Channel.WEB, user=request.user)
        if not errors:
            target = request.POST.get("next", "")
            safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
            return redirect(target if target and safe else gate.get_absolute_url())
    gate.refresh_from_db()
    view = diff_view(request)
    context = gate_context(gate, request.user, review=True, view=view) | {
        "errors": errors,
        "posted": request.POST,
        "diff_links": diff_view_links(request, view, anchor="review-changes"),
    }
    return render(request, "workflows/approval_detail.html", context, status=422 if errors else 200)


@limit("strict")
@require_http_methods(["GET", "POST"])
def link(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: GET shows the gate and changes nothing; POST decides."""
    check = link_check(token, request.user)
    if not check.ok:
        title, message = LINK_PROBLEMS[check.problem]
        message = str(in_language(check.message)) if check.message else message
        return render(
            request,
            "workflows/approval_link_problem.html",
            {"title": title, "message": message, "problem": check.problem},
            status=403,
        )
    invitation = check.invitation
    assert invitation is not None
    gate = invitation.gate
    errors: dict[str, str] = {}
    if request.method == "POST":
        errors = _handle_post(request, gate, channel=ApprovalEntry.Channel.EMAIL, user=invitation.user)
        if not errors:
            gate.refresh_from_db()
            return render(
                request,
                "workflows/approval_link_done.html",
                {"gate": gate, "verdict": request.POST.get("verdict")},
            )
    view = diff_view(request)
    context = gate_context(gate, invitation.user, review=True, view=view) | {
        "diff_links": diff_view_links(request, view, anchor="review-changes"),
        "errors": errors,
        "posted": request.POST,
        "via_link": True,
        "link_user": invitation.user,
    }
    return render(request, "workflows/approval_link.html", context, status=422 if errors else 200)


def _handle_post(request: HttpRequest, gate: ApprovalGate, *, channel: str, user: Any) -> dict[str, str]:
    """Decide or comment; returns field errors (empty when it worked)."""
    action = request.POST.get("verdict") or request.POST.get("action")
    try:
        if action == "comment":
            reply_to = gate.entries.filter(pk=request.POST.get("reply_to") or 0).first()
            approval_comment(
                gate=gate, user=user, text=request.POST.get("comment", ""), channel=channel, reply_to=reply_to
            )
            messages.success(request, _("Comment added."))
        elif action in ApprovalEntry.VERDICTS:
            form_data = {f["name"]: request.POST.get(f"form-{f['name']}") for f in gate.form}
            approval_decide(
                gate=gate,
                user=user,
                verdict=action,
                comment=request.POST.get("comment", ""),
                form_data=form_data,
                channel=channel,
            )
            messages.success(request, _("Approved.") if action == "approve" else _("Rejected."))
        else:
            return {"__all__": _("Choose approve, reject, or comment.")}
    except ApprovalError as exc:
        return exc.errors or {"__all__": refusal_text(exc)}
    return {}
