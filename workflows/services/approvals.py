"""Human approval gates, as people see them: who may vote, deciding, comments, and what a
signed link is worth. Opening a gate, finishing its step, cancelling it and its timers are
the engine's (workflows/engine/gates.py), which deciding calls."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.permissions import AnyUser, role_in
from accounts.services import audit_record
from workflows.domain.approval_forms import FormInvalid, clean_form
from workflows.domain.texts import Code, Text, reason_of
from workflows.engine import git_merge, reviews
from workflows.engine.approval_mail import LINK_SALT
from workflows.engine.gate_notes import gate_note
from workflows.engine.gates import (
    DECIDING_ROLE,
    blocked_self_approval,
    gate_close,
    gate_merge_review,
)
from workflows.engine.journal import event_append
from workflows.models import ApprovalEntry, ApprovalGate, ApprovalInvitation, Run

G = ApprovalGate.Status


class ApprovalError(ValueError):
    def __init__(self, message: str, code: str = "invalid", errors: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.errors = errors or {}


class MergeRefusal(ApprovalError):
    """Approving a review gate would have to force the merge of the run's branch: the vote
    is not recorded, nothing is merged, and the gate stays pending."""

    def __init__(self, message: str, refused: git_merge.MergeRefused) -> None:
        super().__init__(message, "merge_refused")
        self.reason = reason_of(refused)  # a sentence when git_merge said it as one
        self.refused = refused


# --- who may decide ------------------------------------------------------------------------


def decide_refusal(gate: ApprovalGate, user: User | None) -> ApprovalError | None:
    """Why this person may not vote on the gate now, or None. The one rule for every channel
    (page, email link, API): an active user, invited, still in the run's team with a role
    that decides (member or higher), on a pending gate whose deadline has not passed."""
    if user is None or not user.is_authenticated:
        return ApprovalError(Text("Sign in to decide this approval."), "forbidden")
    if not user.is_active:
        return ApprovalError(Text("This account is deactivated; it cannot decide approvals."), "forbidden")
    if not gate.invitations.filter(user=user).exists():
        return ApprovalError(Text("You are not an approver of this gate."), "forbidden")
    team = gate.run.project.team
    role = role_in(user, team)
    if role is None:
        return ApprovalError(
            Text("You are no longer a member of the team {team}.", team=team.name), "forbidden"
        )
    if not role.covers(DECIDING_ROLE):
        return ApprovalError(
            Text(
                "Viewers cannot decide approvals; your role in {team} is {role}.",
                team=team.name,
                role=str(role.label).lower(),
            ),
            "forbidden",
        )
    if not gate.is_pending:
        return ApprovalError(Text("This gate is already {status}.", status=Code(gate.status)), "conflict")
    if gate.deadline and gate.deadline <= timezone.now():
        return ApprovalError(
            Text("The deadline of this gate has passed; it is closing on its own."), "conflict"
        )
    return None


def may_decide(gate: ApprovalGate, user: User | None) -> bool:
    return decide_refusal(gate, user) is None


# --- deciding ---------------------------------------------------------------------------------


def approval_decide(
    *,
    gate: ApprovalGate,
    user: User,
    verdict: str,
    comment: str = "",
    form_data: dict[str, Any] | None = None,
    channel: str,
) -> ApprovalGate:
    """Record one person's vote; close the gate when the quorum is met or a reject ends it."""
    if verdict not in ApprovalEntry.VERDICTS:
        raise ApprovalError(Text("The verdict must be 'approve' or 'reject'."))
    try:
        return _decide(gate, user, verdict, comment, form_data, channel)
    except MergeRefusal as exc:
        _note_merge_refused(gate, user, exc, channel)
        raise


def _decide(
    gate: ApprovalGate,
    user: User,
    verdict: str,
    comment: str,
    form_data: dict[str, Any] | None,
    channel: str,
) -> ApprovalGate:
    with transaction.atomic():
        gate = ApprovalGate.objects.select_for_update().select_related("run", "step").get(pk=gate.pk)
        _check_may_vote(gate, user, verdict)
        if verdict == "reject":
            _check_rework_comment(gate, comment)
        cleaned: dict[str, Any] = {}
        if verdict == "approve" and gate.form:
            try:
                cleaned = clean_form(gate.form, form_data or {})
            except FormInvalid as exc:
                raise ApprovalError(Text("The form has errors."), "invalid", exc.errors) from None
        try:
            with transaction.atomic():
                ApprovalEntry.objects.create(
                    gate=gate,
                    user=user,
                    kind=verdict,
                    comment=comment.strip(),
                    form_data=cleaned,
                    channel=channel,
                )
        except IntegrityError:
            raise ApprovalError(Text("You have already voted on this gate."), "conflict") from None
        ApprovalInvitation.objects.filter(gate=gate, user=user).update(nonce="")
        audit_record(
            action="workflows.approval.decided",
            channel=channel,
            actor=user,
            team=gate.run.project.team,
            obj=gate,
            data={"verdict": verdict, "comment": comment},
        )
        event_append(
            run_id=gate.run_id,
            type="approval.decided",
            step=gate.step,
            data={
                "gate": gate.pk,
                "user": user.get_username(),
                "verdict": verdict,
                "channel": channel,
                "comment": comment,
            },
        )
        _settle_votes(gate, verdict, user, channel)
    return gate


def _check_rework_comment(gate: ApprovalGate, comment: str) -> None:
    """A reject of a review gate that can still send the work back must say what to change:
    the comment becomes the agent's instructions."""
    config = gate.step.config
    if reviews.rework_left(config) > 0 and not comment.strip():
        raise ApprovalError(
            Text(
                "Say what to change: rejecting this review sends your comment to the agent, which "
                "reworks its change (rework {round} of at most {limit}). To stop instead, cancel the run.",
                round=reviews.rework_round(config) + 1,
                limit=reviews.rework_limit(config),
            )
        )


def _check_may_vote(gate: ApprovalGate, user: User, verdict: str) -> None:
    refusal = decide_refusal(gate, user)
    if refusal is not None:
        raise refusal
    if verdict == "approve" and blocked_self_approval(gate, user):
        raise ApprovalError(Text("You started this run, so you may not approve it."), "forbidden")


def _settle_votes(gate: ApprovalGate, verdict: str, user: User, channel: str) -> None:
    votes = list(gate.entries.filter(kind__in=ApprovalEntry.VERDICTS).values_list("kind", "user_id"))
    approvals = sum(1 for kind, _ in votes if kind == "approve")
    if verdict == "reject" and gate.reject_ends:
        gate_close(gate, G.REJECTED, Text("rejected by {user}", user=user.get_username()))
    elif approvals >= gate.quorum:
        names = ", ".join(
            u.get_username()
            for u in get_user_model().objects.filter(pk__in=[uid for kind, uid in votes if kind == "approve"])
        )
        try:
            merged = gate_merge_review(gate, actor=user, channel=channel, approvers=names)
        except git_merge.MergeRefused as exc:
            raise MergeRefusal(_refusal_text(gate.run, exc), exc) from None
        gate_close(gate, G.APPROVED, Text("approved by {names}", names=names), merge=merged)
    else:
        voted = {uid for _, uid in votes}
        still_possible = sum(
            1
            for inv in gate.invitations.select_related("user")
            if inv.user_id not in voted and not blocked_self_approval(gate, inv.user)
        )
        if approvals + still_possible < gate.quorum:
            gate_close(gate, G.REJECTED, Text("the quorum can no longer be met"))


# What to do after a refused merge (sentences of their own: a page shows them translated).
APPROVE_MERGE_ADVICE = {
    "conflict": "Resolve the conflict on the base branch, or reject with a comment to send "
    "the work back to the agent.",
    "dirty": "Commit or stash those changes in the workspace, then approve again.",
    "not_fast_forward": "Or reject with a comment to send the work back to the agent.",
    "moved": "Try again.",
}


def _refusal_text(run: Run, refused: git_merge.MergeRefused) -> Text:
    refusal = Text(
        "Approving would merge {branch}, but {reason}. Nothing was merged and the gate stays pending.",
        branch=run.git_branch,
        reason=refused.args[0],
    )
    advice = APPROVE_MERGE_ADVICE.get(refused.code)
    return Text("{refusal} {advice}", refusal=refusal, advice=Text(advice)) if advice else refusal


def _note_merge_refused(gate: ApprovalGate, user: User, refusal: MergeRefusal, channel: str) -> None:
    """The refused approval leaves a line in the gate's history, an event and an audit
    entry (the vote itself was rolled back with everything else)."""
    with transaction.atomic():
        gate = ApprovalGate.objects.select_related("run__project__team").get(pk=gate.pk)
        if not gate.is_pending:
            return
        gate_note(
            gate,
            Text(
                "{user} approved, but the merge was refused: {reason}. "
                "Nothing was merged; the gate stays pending.",
                user=user.get_username(),
                reason=refusal.reason,
            ),
        )
        data = {
            "gate": gate.pk,
            "user": user.get_username(),
            "reason": str(refusal.reason),
            "code": refusal.refused.code,
            "files": refusal.refused.files,
        }
        event_append(run_id=gate.run_id, type="approval.merge_refused", step=gate.step, data=data)
        audit_record(
            action="workflows.approval.merge_refused",
            channel=channel,
            actor=user,
            team=gate.run.project.team,
            obj=gate,
            data=data,
        )


def approval_comment(
    *,
    gate: ApprovalGate,
    user: User,
    text: str,
    channel: str,
    reply_to: ApprovalEntry | None = None,
) -> ApprovalEntry:
    if not text.strip():
        raise ApprovalError(Text("A comment needs some text."))
    if reply_to is not None and reply_to.gate_id != gate.pk:
        raise ApprovalError(Text("You can only reply to a comment on the same gate."))
    with transaction.atomic():
        entry = ApprovalEntry.objects.create(
            gate=gate,
            user=user,
            kind=ApprovalEntry.Kind.COMMENT,
            comment=text.strip(),
            channel=channel,
            reply_to=reply_to,
        )
        audit_record(
            action="workflows.approval.commented",
            channel=channel,
            actor=user,
            team=gate.run.project.team,
            obj=gate,
        )
    return entry


# --- signed links ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkCheck:
    invitation: ApprovalInvitation | None
    problem: str = ""  # forged, expired, used, decided, foreign, not_allowed
    message: str = ""  # for not_allowed: why this approver may not decide now

    @property
    def ok(self) -> bool:
        return not self.problem


def link_check(token: str, current_user: AnyUser | None = None) -> LinkCheck:
    """What a link is worth: its invitation, or why it cannot be used (and nothing changes)."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=settings.APPROVAL_LINK_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        return LinkCheck(None, "expired")
    except signing.BadSignature:
        return LinkCheck(None, "forged")
    if not isinstance(data, dict) or not {"g", "u", "n"} <= set(data):
        return LinkCheck(None, "forged")
    invitation = (
        ApprovalInvitation.objects.select_related("gate__run__project", "user")
        .filter(gate_id=data["g"], user_id=data["u"])
        .first()
    )
    if invitation is None:
        return LinkCheck(None, "forged")
    if current_user is not None and current_user.is_authenticated and current_user.pk != invitation.user_id:
        return LinkCheck(invitation, "foreign")
    if not invitation.nonce or not secrets.compare_digest(invitation.nonce, str(data["n"])):
        return LinkCheck(invitation, "used")
    gate = invitation.gate
    if not gate.is_pending:
        return LinkCheck(invitation, "decided")
    if gate.deadline and gate.deadline <= timezone.now():
        return LinkCheck(invitation, "expired")
    refusal = decide_refusal(gate, invitation.user)
    if refusal is not None:
        return LinkCheck(invitation, "not_allowed", refusal.args[0])  # a Text: pages translate it
    return LinkCheck(invitation)
