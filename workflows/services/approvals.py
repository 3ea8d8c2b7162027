"""Human approval gates: open, decide, comment, time out, escalate, remind, and links."""

from __future__ import annotations

import functools
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from accounts.models import Membership, Profile, Role
from accounts.permissions import AnyUser, role_in
from accounts.services import audit_record
from workflows.engine import dispatch, git_merge, reviews
from workflows.engine.approval_forms import FormInvalid, clean_form
from workflows.engine.durations import parse_duration
from workflows.engine.journal import event_append
from workflows.engine.scheduler import run_advance, step_set_status
from workflows.models import ApprovalEntry, ApprovalGate, ApprovalInvitation, Run, Step
from workflows.workspace_policy import WorkspaceNotAllowed

logger = logging.getLogger(__name__)
LINK_SALT = "workflows.approval-link"
DECIDING_ROLE = Role.MEMBER  # viewers only read
TITLE_MAX_LENGTH = 200  # ApprovalGate.title
G = ApprovalGate.Status
S = Step.Status


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
        self.reason = str(refused)
        self.refused = refused


# --- who may decide ------------------------------------------------------------------------


def eligible_users(run: Run, approvers: list[str]) -> list[User]:
    """Team members named in `approvers`, directly or as role:<role> (that role or higher);
    viewers only read, so naming one invites nobody."""
    memberships = Membership.objects.filter(team_id=run.project.team_id).select_related("user")
    chosen: dict[int, User] = {}
    for entry in approvers:
        for membership in memberships:
            user = membership.user
            if not user.is_active or not membership.has_role(DECIDING_ROLE):
                continue
            if entry.startswith("role:"):
                if membership.has_role(entry[5:]):
                    chosen[user.pk] = user
            elif user.get_username() == entry:
                chosen[user.pk] = user
    return list(chosen.values())


def decide_refusal(gate: ApprovalGate, user: User | None) -> ApprovalError | None:
    """Why this person may not vote on the gate now, or None. The one rule for every channel
    (page, email link, API): an active user, invited, still in the run's team with a role
    that decides (member or higher), on a pending gate whose deadline has not passed."""
    if user is None or not user.is_authenticated:
        return ApprovalError("Sign in to decide this approval.", "forbidden")
    if not user.is_active:
        return ApprovalError("This account is deactivated; it cannot decide approvals.", "forbidden")
    if not gate.invitations.filter(user=user).exists():
        return ApprovalError("You are not an approver of this gate.", "forbidden")
    team = gate.run.project.team
    role = role_in(user, team)
    if role is None:
        return ApprovalError(f"You are no longer a member of the team {team.name}.", "forbidden")
    if not role.covers(DECIDING_ROLE):
        return ApprovalError(
            f"Viewers cannot decide approvals; your role in {team.name} is {role.label.lower()}.",
            "forbidden",
        )
    if not gate.is_pending:
        return ApprovalError(f"This gate is already {gate.status}.", "conflict")
    if gate.deadline and gate.deadline <= timezone.now():
        return ApprovalError("The deadline of this gate has passed; it is closing on its own.", "conflict")
    return None


def may_decide(gate: ApprovalGate, user: User | None) -> bool:
    return decide_refusal(gate, user) is None


def blocked_self_approval(gate: ApprovalGate, user: User) -> bool:
    return not gate.allow_self_approval and gate.run.started_by_id == user.pk


# --- opening a gate (the approval step's executor calls this) --------------------------------


def gate_open(*, step: Step, config: dict[str, Any]) -> ApprovalGate:
    """Create the step's gate once (a retried step finds the same gate) and invite people."""
    with transaction.atomic():
        existing = ApprovalGate.objects.filter(step=step).first()
        if existing is not None:
            return existing
        run = Run.objects.select_related("project__team").get(pk=step.run_id)
        deadline = None
        if config.get("timeout"):
            deadline = timezone.now() + timedelta(seconds=parse_duration(config["timeout"]))
        gate = ApprovalGate.objects.create(
            step=step,
            run=run,
            title=one_line(
                config.get("title") or f"Approve {run.workflow_name} · {run.spec_id or run.project.name}",
                TITLE_MAX_LENGTH,
            ),
            approvers=list(config["approvers"]),
            quorum=int(config.get("quorum", 1)),
            allow_self_approval=bool(config.get("allow_self_approval", False)),
            reject_ends=bool(config.get("reject_ends", True)),
            form=list(config.get("form", [])),
            deadline=deadline,
            on_timeout=config.get("on_timeout", "reject"),
            escalate_to=list(config.get("escalate_to", [])),
            escalate_timeout=(
                parse_duration(config["escalate_timeout"]) if config.get("escalate_timeout") else None
            ),
            reminders=sorted((parse_duration(r) for r in config.get("reminders", [])), reverse=True),
        )
        invited = _invite(gate, eligible_users(run, gate.approvers))
        event_append(
            run_id=run.pk,
            type="approval.requested",
            step=step,
            data={
                "gate": gate.pk,
                "title": gate.title,
                "quorum": gate.quorum,
                "approvers": [u.get_username() for u in invited],
                "deadline": deadline.isoformat() if deadline else None,
            },
        )
        _note_unreachable_quorum(gate)
    return gate


def _invite(gate: ApprovalGate, users: list[User], escalation: bool = False) -> list[User]:
    invited = []
    for user in users:
        invitation, created = ApprovalInvitation.objects.get_or_create(
            gate=gate,
            user=user,
            defaults={"nonce": secrets.token_urlsafe(16), "escalation": escalation},
        )
        if created:
            invited.append(user)
            transaction.on_commit(functools.partial(_send, invitation, "approval_request"))
    return invited


def _note_unreachable_quorum(gate: ApprovalGate) -> None:
    voters = [
        inv.user
        for inv in gate.invitations.select_related("user")
        if not blocked_self_approval(gate, inv.user)
    ]
    if len(voters) < gate.quorum:
        ApprovalEntry.objects.create(
            gate=gate,
            kind=ApprovalEntry.Kind.SYSTEM,
            channel=ApprovalEntry.Channel.SYSTEM,
            comment=(
                f"Only {len(voters)} person(s) may approve, fewer than the quorum of "
                f"{gate.quorum}; the gate can only time out or be rejected."
            ),
        )


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
    if verdict not in ("approve", "reject"):
        raise ApprovalError("The verdict must be 'approve' or 'reject'.")
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
                raise ApprovalError("The form has errors.", "invalid", exc.errors) from None
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
            raise ApprovalError("You have already voted on this gate.", "conflict") from None
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
            "Say what to change: rejecting this review sends your comment to the agent, which "
            f"reworks its change (rework {reviews.rework_round(config) + 1} of at most "
            f"{reviews.rework_limit(config)}). To stop instead, cancel the run."
        )


def _check_may_vote(gate: ApprovalGate, user: User, verdict: str) -> None:
    refusal = decide_refusal(gate, user)
    if refusal is not None:
        raise refusal
    if verdict == "approve" and blocked_self_approval(gate, user):
        raise ApprovalError("You started this run, so you may not approve it.", "forbidden")


def _settle_votes(gate: ApprovalGate, verdict: str, user: User, channel: str) -> None:
    votes = list(gate.entries.filter(kind__in=["approve", "reject"]).values_list("kind", "user_id"))
    approvals = sum(1 for kind, _ in votes if kind == "approve")
    if verdict == "reject" and gate.reject_ends:
        _close(gate, G.REJECTED, f"rejected by {user.get_username()}")
    elif approvals >= gate.quorum:
        names = ", ".join(
            u.get_username()
            for u in get_user_model().objects.filter(pk__in=[uid for kind, uid in votes if kind == "approve"])
        )
        merged = _merge_review(gate, actor=user, channel=channel, approvers=names)
        _close(gate, G.APPROVED, f"approved by {names}", merge=merged)
    else:
        voted = {uid for _, uid in votes}
        still_possible = sum(
            1
            for inv in gate.invitations.select_related("user")
            if inv.user_id not in voted and not blocked_self_approval(gate, inv.user)
        )
        if approvals + still_possible < gate.quorum:
            _close(gate, G.REJECTED, "the quorum can no longer be met")


def _close(gate: ApprovalGate, status: str, outcome: str, merge: dict[str, Any] | None = None) -> None:
    """Close the gate (compare-and-set) and finish its step if the step is waiting."""
    form_data: dict[str, Any] = {}
    for entry in gate.entries.filter(kind="approve"):
        form_data.update(entry.form_data)
    updated = ApprovalGate.objects.filter(pk=gate.pk, status=G.PENDING).update(
        status=status, outcome=outcome, decided_at=timezone.now(), form_data=form_data, merge=merge or {}
    )
    if not updated:
        return
    gate.status, gate.outcome, gate.form_data, gate.merge = status, outcome, form_data, merge or {}
    ApprovalEntry.objects.create(
        gate=gate,
        kind=ApprovalEntry.Kind.SYSTEM,
        channel=ApprovalEntry.Channel.SYSTEM,
        comment=f"Gate {status}: {outcome}.",
    )
    gate_finish_step(gate)


def gate_finish_step(gate: ApprovalGate) -> bool:
    """Let the run go on once a decided gate's step is waiting (call in a transaction): an
    approved gate's step succeeds, a rejected one's fails, unless it is a review gate that
    can send the work back for rework (_send_back).

    True when it finished the step (and advanced the run)."""
    if gate.is_pending:
        return False
    step = Step.objects.get(pk=gate.step_id)
    if step.status != S.WAITING:
        return False  # the worker has not marked it waiting yet; it calls this when it does
    output = {
        **step.output,
        "gate": gate.pk,
        "decision": gate.status,
        "form": gate.form_data,
        "outcome": gate.outcome,
    }
    if gate.merge:
        output["merge"] = gate.merge
    run = Run.objects.get(pk=step.run_id)
    if gate.status == G.APPROVED:
        step_set_status(step, S.SUCCEEDED, event="step.succeeded", output=output)
    elif gate.status == G.REJECTED and _send_back(gate, step, run, output):
        pass  # the review sent the work back: a rework step and a fresh review follow it
    else:
        step_set_status(step, S.FAILED, event="step.failed", output=output, error=_rejection(gate, step))
    dispatch.after_commit(run_advance(run, [step]))
    return True


def _rework_comments(gate: ApprovalGate) -> list[tuple[str, str]]:
    """What the rejecting reviewers said, oldest first."""
    entries = gate.entries.filter(kind=ApprovalEntry.Kind.REJECT).select_related("user").order_by("id")
    return [(e.user.get_username() if e.user else "?", e.comment) for e in entries if e.comment.strip()]


def _send_back(gate: ApprovalGate, step: Step, run: Run, output: dict[str, Any]) -> bool:
    """A rejected review gate with rework rounds left and the reviewers' words: finish the
    gate's step and append a rework agent step and a fresh review gate after it (the steps
    that waited for this gate wait for the new one). False when this gate cannot do that."""
    if reviews.rework_left(step.config) <= 0:
        return False
    comments = _rework_comments(gate)
    reviewed = reviews.reviewed_step(step)
    if not comments or reviewed is None:
        return False
    keys = reviews.rework_keys(step, reviewed)
    output = {**output, "rework": keys[0], "next_review": keys[1]}
    if not step_set_status(step, S.SUCCEEDED, event="step.succeeded", output=output):
        return False
    reviews.rework_append(run, step, reviewed, keys, comments)
    event_append(
        run_id=run.pk,
        type="approval.rework",
        step=step,
        data={
            "gate": gate.pk,
            "rework": keys[0],
            "review": keys[1],
            "round": reviews.rework_round(step.config) + 1,
            "limit": reviews.rework_limit(step.config),
        },
    )
    return True


def _rejection(gate: ApprovalGate, step: Step) -> str:
    """Why a rejected gate fails its step; for a review gate, also why no rework follows."""
    config = step.config
    if gate.status != G.REJECTED or not reviews.is_review(config):
        return gate.outcome
    limit = reviews.rework_limit(config)
    if limit and reviews.rework_left(config) <= 0:
        return f"{gate.outcome}; the rework limit ({limit}) is used up"
    return gate.outcome


def _merge_review(gate: ApprovalGate, *, actor: User | None, channel: str, approvers: str) -> dict[str, Any]:
    """Approving a review gate merges the run's branch into the base branch (the gate's or
    the project's strategy) before the gate closes; MergeRefusal, and nothing merged, when
    that would need force. {} for a gate that reviews nothing or a run without a branch."""
    step = gate.step
    if not reviews.is_review(step.config):
        return {}
    run = Run.objects.select_related("project__team").get(pk=gate.run_id)
    if not run.git_branch:
        return {}
    strategy = reviews.merge_strategy(step.config, run.project)
    try:
        merged = git_merge.merge_branch(
            run, strategy, message=f"Run {run.pk}, review gate {gate.pk}, approved by {approvers}."
        )
    except git_merge.MergeRefused as exc:
        raise MergeRefusal(_refusal_text(run, exc), exc) from None
    except WorkspaceNotAllowed as exc:
        refused = git_merge.MergeRefused(str(exc), "workspace")
        raise MergeRefusal(_refusal_text(run, refused), refused) from None
    record = {**merged.as_dict(), "at": timezone.now().isoformat()}
    event_append(run_id=run.pk, type="git.merged", step=step, data={"gate": gate.pk, **record})
    audit_record(
        action="workflows.run.merged",
        channel=channel,
        actor=actor,
        team=run.project.team,
        obj=run,
        data={"gate": gate.pk, **record},
    )
    return record


def _refusal_text(run: Run, refused: git_merge.MergeRefused) -> str:
    advice = {
        "conflict": " Resolve the conflict on the base branch, or reject with a comment to send "
        "the work back to the agent.",
        "dirty": " Commit or stash those changes in the workspace, then approve again.",
        "not_fast_forward": " Or reject with a comment to send the work back to the agent.",
        "moved": " Try again.",
    }.get(refused.code, "")
    return (
        f"Approving would merge {run.git_branch}, but {refused}. Nothing was merged and the gate "
        f"stays pending.{advice}"
    )


def _note_merge_refused(gate: ApprovalGate, user: User, refusal: MergeRefusal, channel: str) -> None:
    """The refused approval leaves a line in the gate's history, an event and an audit
    entry (the vote itself was rolled back with everything else)."""
    with transaction.atomic():
        gate = ApprovalGate.objects.select_related("run__project__team").get(pk=gate.pk)
        if not gate.is_pending:
            return
        ApprovalEntry.objects.create(
            gate=gate,
            kind=ApprovalEntry.Kind.SYSTEM,
            channel=ApprovalEntry.Channel.SYSTEM,
            comment=f"{user.get_username()} approved, but the merge was refused: {refusal.reason}. "
            "Nothing was merged; the gate stays pending.",
        )
        data = {
            "gate": gate.pk,
            "user": user.get_username(),
            "reason": refusal.reason,
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


def gate_cancel_for_step(step: Step, *, by: User | None = None, channel: str = "system") -> None:
    """Close the step's pending gate because its run was cancelled: compare-and-set, a line
    in the gate's history, an audit entry and a run event, as every other gate change."""
    for gate in ApprovalGate.objects.filter(step=step, status=G.PENDING).select_related("run__project__team"):
        outcome = "the run was cancelled"
        if not ApprovalGate.objects.filter(pk=gate.pk, status=G.PENDING).update(
            status=G.CANCELLED, outcome=outcome, decided_at=timezone.now()
        ):
            continue
        ApprovalEntry.objects.create(
            gate=gate,
            kind=ApprovalEntry.Kind.SYSTEM,
            channel=ApprovalEntry.Channel.SYSTEM,
            comment=f"Gate cancelled: {outcome}.",
        )
        audit_record(
            action="workflows.approval.cancelled",
            channel=channel,
            actor=by,
            team=gate.run.project.team,
            obj=gate,
            data={"outcome": outcome},
        )
        event_append(
            run_id=gate.run_id,
            type="approval.cancelled",
            step=step,
            data={"gate": gate.pk, "outcome": outcome},
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
        raise ApprovalError("A comment needs some text.")
    if reply_to is not None and reply_to.gate_id != gate.pk:
        raise ApprovalError("You can only reply to a comment on the same gate.")
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


# --- timers: deadlines, escalation, reminders -----------------------------------------------


def approvals_fire_timers() -> int:
    now = timezone.now()
    fired = 0
    for gate in ApprovalGate.objects.filter(status=G.PENDING, deadline__lte=now):
        with transaction.atomic():
            gate = ApprovalGate.objects.select_for_update().get(pk=gate.pk)
            if gate.is_pending and gate.deadline and gate.deadline <= now:
                _time_out(gate)
                fired += 1
    for gate in ApprovalGate.objects.filter(status=G.PENDING, deadline__gt=now).exclude(reminders=[]):
        fired += _remind(gate, now)
    return fired


def _time_out(gate: ApprovalGate) -> None:
    assert gate.deadline is not None  # only a gate with a deadline times out
    if gate.on_timeout == ApprovalGate.OnTimeout.ESCALATE and not gate.escalated:
        seconds = gate.escalate_timeout or max(60, int((gate.deadline - gate.created_at).total_seconds()))
        gate.deadline = timezone.now() + timedelta(seconds=seconds)
        gate.escalated = True
        gate.on_timeout = ApprovalGate.OnTimeout.REJECT
        gate.reminders_sent = []
        gate.save(update_fields=["deadline", "escalated", "on_timeout", "reminders_sent"])
        invited = _invite(gate, eligible_users(gate.run, gate.escalate_to), escalation=True)
        ApprovalEntry.objects.create(
            gate=gate,
            kind=ApprovalEntry.Kind.SYSTEM,
            channel=ApprovalEntry.Channel.SYSTEM,
            comment=(
                "Deadline passed: escalated to "
                f"{', '.join(u.get_username() for u in invited) or 'nobody new'}."
            ),
        )
        event_append(
            run_id=gate.run_id,
            type="approval.escalated",
            step=gate.step,
            data={"gate": gate.pk, "to": [u.get_username() for u in invited]},
        )
        return
    status = G.APPROVED if gate.on_timeout == ApprovalGate.OnTimeout.APPROVE else G.REJECTED
    outcome = f"the deadline passed ({gate.on_timeout} on timeout)"
    merged: dict[str, Any] = {}
    if status == G.APPROVED:
        try:
            merged = _merge_review(gate, actor=None, channel="system", approvers="the deadline")
        except MergeRefusal as exc:
            # Nobody is there to resolve it: the gate closes rejected, saying why.
            status, outcome = G.REJECTED, f"{outcome}, but the merge was refused: {exc.reason}"
    _close(gate, status, outcome, merge=merged)
    audit_record(
        action="workflows.approval.timed_out",
        channel="system",
        team=gate.run.project.team,
        obj=gate,
        data={"status": status},
    )


def _remind(gate: ApprovalGate, now: Any) -> int:
    assert gate.deadline is not None  # only a gate with a deadline has reminders sent
    due = [
        r
        for r in gate.reminders
        if r not in gate.reminders_sent and gate.deadline - timedelta(seconds=r) <= now
    ]
    if not due:
        return 0
    with transaction.atomic():
        updated = ApprovalGate.objects.filter(pk=gate.pk, reminders_sent=gate.reminders_sent).update(
            reminders_sent=gate.reminders_sent + due
        )
        if not updated:
            return 0
        voted = set(gate.entries.filter(kind__in=["approve", "reject"]).values_list("user_id", flat=True))
        for invitation in gate.invitations.exclude(user_id__in=voted):
            transaction.on_commit(functools.partial(_send, invitation, "approval_reminder"))
    return 1


def one_line(text: str, limit: int) -> str:
    """Text for a single line (a title, an email subject): whitespace runs, newlines
    included, become one space, and it is cut to `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- signed links ---------------------------------------------------------------------------


def link_token(invitation: ApprovalInvitation) -> str:
    return signing.dumps(
        {"g": invitation.gate_id, "u": invitation.user_id, "n": invitation.nonce}, salt=LINK_SALT
    )


def link_url(invitation: ApprovalInvitation) -> str:
    from django.urls import reverse

    return settings.SITE_URL + reverse("approval_link", args=[link_token(invitation)])


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
        return LinkCheck(invitation, "not_allowed", str(refusal))
    return LinkCheck(invitation)


def _send(invitation: ApprovalInvitation, template: str) -> None:
    from django.core.mail import EmailMultiAlternatives
    from django.template.loader import render_to_string

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
        ApprovalEntry.objects.create(
            gate=gate,
            kind=ApprovalEntry.Kind.SYSTEM,
            channel=ApprovalEntry.Channel.SYSTEM,
            comment=f"Could not email {user.get_username()} ({type(exc).__name__}); they can decide "
            "from their approvals inbox.",
        )
        return
    ApprovalInvitation.objects.filter(pk=invitation.pk).update(sent_at=timezone.now())
