"""Approval emails: the signed link each invitation carries, and the message inviting or
reminding an approver. The engine sends them when a gate opens, escalates or reminds."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Profile
from workflows.domain.texts import Text
from workflows.engine.gate_notes import gate_note
from workflows.engine.reviews import review_detail
from workflows.models import ApprovalGate, ApprovalInvitation

logger = logging.getLogger(__name__)
LINK_SALT = "workflows.approval-link"


def one_line(text: str, limit: int) -> str:
    """Text for a single line (a title, an email subject): whitespace runs, newlines
    included, become one space, and it is cut to `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def link_token(invitation: ApprovalInvitation) -> str:
    return signing.dumps(
        {"g": invitation.gate_id, "u": invitation.user_id, "n": invitation.nonce}, salt=LINK_SALT
    )


def link_url(invitation: ApprovalInvitation) -> str:
    return settings.SITE_URL + reverse("approval_link", args=[link_token(invitation)])


def review_summary(gate: ApprovalGate) -> dict[str, Any] | None:
    """For a review gate's emails: the reviewed step, the files it changed (the first 10,
    with their counts) and the spec's tasks verified after it, from the gate's snapshot;
    None for any other gate, or before the snapshot is taken."""
    detail = review_detail(gate, live=False)
    if not detail or not detail["ready"] or detail["error"]:
        return None
    files = detail["changed"]
    return {
        "step": detail["step"],
        "files": files[:10],
        "more": max(0, len(files) - 10),
        "count": len(files),
        "additions": sum(f.get("additions", 0) for f in files),
        "deletions": sum(f.get("deletions", 0) for f in files),
        "verified": detail.get("verified", 0),
        "total": detail.get("total", 0),
    }


def mail_send(invitation: ApprovalInvitation, template: str) -> None:
    invitation = ApprovalInvitation.objects.select_related("gate__run__project", "user").get(pk=invitation.pk)
    user = invitation.user
    if not user.email or not invitation.nonce:
        return
    gate = invitation.gate
    context = {
        "gate": gate,
        "run": gate.run,
        "user": user,
        "link": link_url(invitation),
        "site_url": settings.SITE_URL,
        "review": review_summary(gate),
    }
    # Each approver reads the email in the language they chose for the pages.
    with translation.override(Profile.saved_language(user) or settings.LANGUAGE_CODE):
        subject = render_to_string(f"workflows/email/{template}-subject.txt", context).strip()
        body = render_to_string(f"workflows/email/{template}-body.txt", context)
        html = render_to_string(f"workflows/email/{template}-body.html", context)
    try:
        message = EmailMultiAlternatives(subject=one_line(subject, 250), body=body, to=[user.email])
        message.attach_alternative(html, "text/html")
        message.send()
    except Exception as exc:
        # Runs after the gate's transaction committed: whatever the mail server or a header
        # says, the gate stays open and decidable in the inbox and the API; the history
        # says who was not reached, and the log has the details.
        logger.exception("could not send %s for gate %s to %s", template, gate.pk, user.email)
        gate_note(
            gate,
            Text(
                "Could not email {user} ({error}); they can decide from their approvals inbox.",
                user=user.get_username(),
                error=type(exc).__name__,
            ),
        )
        return
    ApprovalInvitation.objects.filter(pk=invitation.pk).update(sent_at=timezone.now())
