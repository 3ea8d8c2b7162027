"""The engine's side of approval gates: open a gate and invite people, finish its step once
it is decided (approved, rejected, or sent back for rework), merge an approved review,
cancel it with its run, and fire deadlines, escalations and reminders. The user-facing
rules (who may vote, deciding, comments, links) are workflows.services.approvals, which
calls these."""

from __future__ import annotations

import functools
import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Role
from accounts.services import audit_record
from workflows.domain.durations import parse_duration
from workflows.domain.texts import Code, Text, reason_of, sentence_data
from workflows.engine import dispatch, git_merge, reviews
from workflows.engine.approval_mail import mail_send, one_line
from workflows.engine.gate_notes import gate_note
from workflows.engine.git_publish import publish_after_review
from workflows.engine.journal import event_append
from workflows.engine.scheduler import run_advance, step_set_status
from workflows.models import ApprovalEntry, ApprovalGate, ApprovalInvitation, Run, Step
from workflows.workspace_policy import WorkspaceNotAllowed

DECIDING_ROLE = Role.MEMBER  # viewers only read
TITLE_MAX_LENGTH = 200  # ApprovalGate.title
G = ApprovalGate.Status
S = Step.Status


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


def blocked_self_approval(gate: ApprovalGate, user: User) -> bool:
    return not gate.allow_self_approval and gate.run.started_by_id == user.pk


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
            transaction.on_commit(functools.partial(mail_send, invitation, "approval_request"))
    return invited


def _note_unreachable_quorum(gate: ApprovalGate) -> None:
    voters = [
        inv.user
        for inv in gate.invitations.select_related("user")
        if not blocked_self_approval(gate, inv.user)
    ]
    if len(voters) < gate.quorum:
        gate_note(
            gate,
            Text(
                "Only {voters} person(s) may approve, fewer than the quorum of {quorum}; "
                "the gate can only time out or be rejected.",
                voters=len(voters),
                quorum=gate.quorum,
            ),
        )


def gate_close(gate: ApprovalGate, status: str, outcome: str, merge: dict[str, Any] | None = None) -> None:
    """Close the gate (compare-and-set) and finish its step if the step is waiting. The
    outcome is a sentence (Text) when a page should show it in the reader's language."""
    form_data: dict[str, Any] = {}
    for entry in gate.entries.filter(kind="approve"):
        form_data.update(entry.form_data)
    outcome_text = sentence_data(outcome)
    updated = ApprovalGate.objects.filter(pk=gate.pk, status=G.PENDING).update(
        status=status,
        outcome=str(outcome),
        outcome_text=outcome_text,
        decided_at=timezone.now(),
        form_data=form_data,
        merge=merge or {},
    )
    if not updated:
        return
    gate.status, gate.outcome, gate.outcome_text = status, str(outcome), outcome_text
    gate.form_data, gate.merge = form_data, merge or {}
    gate_note(gate, Text("Gate {status}: {outcome}.", status=Code(status), outcome=outcome))
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
        return gate.outcome_sentence
    limit = reviews.rework_limit(config)
    if limit and reviews.rework_left(config) <= 0:
        return Text(
            "{outcome}; the rework limit ({limit}) is used up", outcome=gate.outcome_sentence, limit=limit
        )
    return gate.outcome_sentence


def gate_merge_review(
    gate: ApprovalGate, *, actor: User | None, channel: str, approvers: str
) -> dict[str, Any]:
    """Approving a review gate merges the run's branch into the base branch (the gate's or
    the project's strategy) before the gate closes; git_merge.MergeRefused, and nothing
    merged, when that would need force (or the workspace is refused). {} for a gate that
    reviews nothing or a run without a branch."""
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
    except WorkspaceNotAllowed as exc:
        raise git_merge.MergeRefused(exc.args[0], "workspace") from None
    record = git_merge.merge_recorded(run, merged, actor=actor, channel=channel, step=step, gate=gate)
    if run.project.git_remote:
        transaction.on_commit(functools.partial(publish_after_review, run.pk, by=actor, channel=channel))
    return record


def gate_cancel_for_step(step: Step, *, by: User | None = None, channel: str = "system") -> None:
    """Close the step's pending gate because its run was cancelled: compare-and-set, a line
    in the gate's history, an audit entry and a run event, as every other gate change."""
    for gate in ApprovalGate.objects.filter(step=step, status=G.PENDING).select_related("run__project__team"):
        outcome = Text("the run was cancelled")
        if not ApprovalGate.objects.filter(pk=gate.pk, status=G.PENDING).update(
            status=G.CANCELLED,
            outcome=str(outcome),
            outcome_text=sentence_data(outcome),
            decided_at=timezone.now(),
        ):
            continue
        gate_note(gate, Text("Gate cancelled: {outcome}.", outcome=outcome))
        audit_record(
            action="workflows.approval.cancelled",
            channel=channel,
            actor=by,
            team=gate.run.project.team,
            obj=gate,
            data={"outcome": str(outcome)},
        )
        event_append(
            run_id=gate.run_id,
            type="approval.cancelled",
            step=step,
            data={"gate": gate.pk, "outcome": str(outcome)},
        )


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
        names = ", ".join(u.get_username() for u in invited)
        gate_note(
            gate,
            Text("Deadline passed: escalated to {names}.", names=names)
            if names
            else Text("Deadline passed: escalated to nobody new."),
        )
        event_append(
            run_id=gate.run_id,
            type="approval.escalated",
            step=gate.step,
            data={"gate": gate.pk, "to": [u.get_username() for u in invited]},
        )
        return
    status = G.APPROVED if gate.on_timeout == ApprovalGate.OnTimeout.APPROVE else G.REJECTED
    outcome = (
        Text("the deadline passed (approve on timeout)")
        if status == G.APPROVED
        else Text("the deadline passed (reject on timeout)")
    )
    merged: dict[str, Any] = {}
    if status == G.APPROVED:
        try:
            merged = gate_merge_review(gate, actor=None, channel="system", approvers="the deadline")
        except git_merge.MergeRefused as exc:
            # Nobody is there to resolve it: the gate closes rejected, saying why.
            status = G.REJECTED
            outcome = Text(
                "{outcome}, but the merge was refused: {reason}", outcome=outcome, reason=reason_of(exc)
            )
    gate_close(gate, status, outcome, merge=merged)
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
        voted = set(gate.entries.filter(kind__in=ApprovalEntry.VERDICTS).values_list("user_id", flat=True))
        for invitation in gate.invitations.exclude(user_id__in=voted):
            transaction.on_commit(functools.partial(mail_send, invitation, "approval_reminder"))
    return 1
