from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.workflows.engine.conftest import drain, start, statuses, template
from workflows.engine.approval_mail import link_token
from workflows.engine.supervisor import supervise
from workflows.models import ApprovalEntry, ApprovalGate, ApprovalInvitation, Run
from workflows.services.approvals import ApprovalError, approval_decide

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def gated(**gate_with):
    gate_with.setdefault("approvers", ["role:approver"])
    return template(
        name="gated",
        steps=[
            {"id": "before", "uses": "noop"},
            {"id": "review", "uses": "approval", "needs": ["before"], "with": gate_with},
            {"id": "after", "uses": "noop", "needs": ["review"]},
        ],
    )


def waiting_run(eproject, user, **gate_with) -> tuple[Run, ApprovalGate]:
    run = drain(start(eproject, gated(**gate_with), user))
    assert run.status == "waiting", statuses(run)
    return run, ApprovalGate.objects.get(run=run)


def test_an_approval_lets_the_run_continue(eproject, team_users):
    run, gate = waiting_run(eproject, team_users.member)
    assert {i.user.username for i in gate.invitations.all()} == {"approver-user", "admin-user"}
    approval_decide(gate=gate, user=team_users.approver, verdict="approve", comment="ok", channel="web")
    run = drain(run)
    assert run.status == "succeeded"
    assert statuses(run)["after"] == "succeeded"
    types = list(run.events.values_list("type", flat=True))
    assert "approval.requested" in types and "approval.decided" in types


def test_quorum_two_needs_two_people_and_one_vote_each(eproject, team_users):
    run, gate = waiting_run(eproject, team_users.member, quorum=2)
    approval_decide(gate=gate, user=team_users.approver, verdict="approve", channel="web")
    with pytest.raises(ApprovalError, match="already voted"):
        approval_decide(gate=gate, user=team_users.approver, verdict="approve", channel="api")
    gate.refresh_from_db()
    assert gate.status == "pending"
    approval_decide(gate=gate, user=team_users.admin, verdict="approve", channel="email")
    gate.refresh_from_db()
    assert gate.status == "approved" and "approver-user" in gate.outcome
    assert drain(run).status == "succeeded"


def test_a_reject_ends_the_gate_at_once(eproject, team_users):
    run, gate = waiting_run(eproject, team_users.member, quorum=2)
    approval_decide(gate=gate, user=team_users.approver, verdict="reject", comment="not yet", channel="web")
    run = drain(run)
    assert run.status == "failed"
    assert statuses(run) == {"before": "succeeded", "review": "failed", "after": "skipped"}
    assert "rejected by approver-user" in run.error


def test_a_reject_can_be_outvoted_when_the_gate_allows_it(eproject, team_users):
    approver2 = team_users.viewer
    approver2.memberships.update(role="approver")
    run, gate = waiting_run(eproject, team_users.member, quorum=2, reject_ends=False)
    approval_decide(gate=gate, user=team_users.admin, verdict="reject", channel="web")
    gate.refresh_from_db()
    assert gate.status == "pending"
    approval_decide(gate=gate, user=team_users.approver, verdict="approve", channel="web")
    approval_decide(gate=gate, user=approver2, verdict="approve", channel="web")
    gate.refresh_from_db()
    assert gate.status == "approved"


def test_no_self_approval_unless_allowed(eproject, team_users):
    run, gate = waiting_run(eproject, team_users.approver)
    with pytest.raises(ApprovalError, match="you may not approve it"):
        approval_decide(gate=gate, user=team_users.approver, verdict="approve", channel="web")
    run2, gate2 = waiting_run(eproject, team_users.approver, allow_self_approval=True)
    approval_decide(gate=gate2, user=team_users.approver, verdict="approve", channel="web")
    gate2.refresh_from_db()
    assert gate2.status == "approved"


def test_only_invited_people_decide(eproject, team_users):
    run, gate = waiting_run(eproject, team_users.admin)
    for user in (team_users.viewer, team_users.member, team_users.outsider):
        with pytest.raises(ApprovalError, match="not an approver"):
            approval_decide(gate=gate, user=user, verdict="approve", channel="api")
    assert not ApprovalEntry.objects.filter(kind__in=["approve", "reject"]).exists()


def test_the_form_is_validated_and_its_data_reaches_the_next_steps(eproject, team_users):
    form = [
        {"name": "risk", "type": "choice", "choices": ["low", "high"], "required": True},
        {"name": "hours", "type": "number", "min": 0, "max": 40},
        {"name": "notes", "type": "text", "max": 10},
    ]
    run, gate = waiting_run(eproject, team_users.member, form=form)
    with pytest.raises(ApprovalError) as info:
        approval_decide(
            gate=gate,
            user=team_users.approver,
            verdict="approve",
            form_data={"risk": "medium", "hours": "99", "notes": "x" * 11},
            channel="web",
        )
    assert set(info.value.errors) == {"risk", "hours", "notes"}
    approval_decide(
        gate=gate,
        user=team_users.approver,
        verdict="approve",
        form_data={"risk": "low", "hours": "3"},
        channel="web",
    )
    run = drain(run)
    assert run.steps.get(key="review").output["form"] == {"risk": "low", "hours": 3}


def test_a_deadline_rejects_by_default(eproject, team_users):
    run, gate = waiting_run(eproject, team_users.member, timeout="1h")
    ApprovalGate.objects.filter(pk=gate.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    supervise()
    gate.refresh_from_db()
    assert gate.status == "rejected" and "deadline passed" in gate.outcome
    assert drain(run).status == "failed"


def test_a_deadline_can_approve(eproject, team_users):
    run, gate = waiting_run(eproject, team_users.member, timeout="1h", on_timeout="approve")
    ApprovalGate.objects.filter(pk=gate.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    supervise()
    assert drain(run).status == "succeeded"


def test_escalation_invites_another_group_with_a_new_deadline(eproject, team_users, smtp_server):
    run, gate = waiting_run(
        eproject,
        team_users.member,
        approvers=["approver-user"],
        timeout="1h",
        on_timeout="escalate",
        escalate_to=["role:admin"],
        escalate_timeout="2h",
    )
    ApprovalGate.objects.filter(pk=gate.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    supervise()
    gate.refresh_from_db()
    assert gate.status == "pending" and gate.escalated
    assert gate.deadline > timezone.now() + timedelta(minutes=110)
    assert ApprovalInvitation.objects.get(gate=gate, user=team_users.admin).escalation
    assert any("admin-user@example.com" in m.rcpt_tos for m in smtp_server)
    approval_decide(gate=gate, user=team_users.admin, verdict="approve", channel="email")
    assert drain(run).status == "succeeded"


def test_reminders_go_to_those_who_have_not_voted(eproject, team_users, smtp_server):
    run, gate = waiting_run(eproject, team_users.member, timeout="3h", reminders=["2h"], quorum=2)
    approval_decide(gate=gate, user=team_users.admin, verdict="approve", channel="web")
    smtp_server.clear()
    ApprovalGate.objects.filter(pk=gate.pk).update(deadline=timezone.now() + timedelta(minutes=90))
    supervise()
    supervise()  # a reminder goes once
    reminders = [m for m in smtp_server if "Reminder" in m.message()["Subject"]]
    assert [m.rcpt_tos for m in reminders] == [["approver-user@example.com"]]


def test_cancelling_the_run_closes_its_gate(eproject, team_users):
    from accounts.models import AuditEntry
    from workflows.services.runs import run_cancel, run_retry

    run, gate = waiting_run(eproject, team_users.member)
    run_cancel(run=run, by=team_users.member, channel="web")
    gate.refresh_from_db()
    assert gate.status == "cancelled"
    # Like every other gate change: its history, the audit log and the run's events say so.
    assert gate.entries.filter(kind="system", comment="Gate cancelled: the run was cancelled.").exists()
    audit = AuditEntry.objects.get(action="workflows.approval.cancelled")
    assert (audit.actor, audit.channel) == (team_users.member, "web")
    assert run.events.filter(type="approval.cancelled", data__gate=gate.pk).exists()
    run.refresh_from_db()
    assert (run.status, run.outcome, run.outcome_reason) == (
        "cancelled",
        "cancelled",
        "cancelled by member-user",
    )
    # Retried, it is not finished any more: how it ended is cleared by the same compare-and-set.
    run_retry(run=run, by=team_users.member, channel="web")
    run.refresh_from_db()
    assert (run.outcome, run.outcome_reason, run.outcome_text, run.finished_at, run.error) == (
        "",
        "",
        {},
        None,
        "",
    )
    assert run.events.filter(type="run.queued", data__from="cancelled").exists()


# --- emailed links, through a real SMTP server ----------------------------------------------


def emailed_link(smtp_server, address: str) -> str:
    message = next(m for m in smtp_server if address in m.rcpt_tos)
    match = re.search(r"https?://[^/\s]+(/approvals/link/\S+/)", message.text())
    assert match, message.text()
    return match.group(1)


def test_the_emailed_link_shows_the_gate_on_get_and_decides_on_post(
    client, eproject, team_users, smtp_server
):
    run, gate = waiting_run(eproject, team_users.member)
    path = emailed_link(smtp_server, "approver-user@example.com")
    page = client.get(path)
    assert page.status_code == 200
    assert gate.title in page.content.decode()
    assert ApprovalEntry.objects.filter(kind__in=["approve", "reject"]).count() == 0
    assert client.get(path).status_code == 200  # a mail scanner's prefetch changes nothing
    done = client.post(path, {"verdict": "approve", "comment": "from my phone"})
    assert done.status_code == 200 and "Thank you" in done.content.decode()
    entry = ApprovalEntry.objects.get(kind="approve")
    assert entry.user == team_users.approver and entry.channel == "email"
    reused = client.get(path)
    assert reused.status_code == 403 and "already used" in reused.content.decode()
    assert drain(run).status == "succeeded"


def test_forged_expired_and_foreign_links_change_nothing(client, eproject, team_users, smtp_server, settings):
    run, gate = waiting_run(eproject, team_users.member)
    path = emailed_link(smtp_server, "approver-user@example.com")
    forged = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    response = client.post(forged, {"verdict": "approve"})
    assert response.status_code == 403 and "not valid" in response.content.decode()
    client.force_login(team_users.admin)
    response = client.post(path, {"verdict": "approve"})
    assert response.status_code == 403 and "someone else" in response.content.decode()
    client.logout()
    ApprovalGate.objects.filter(pk=gate.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    response = client.post(path, {"verdict": "approve"})
    assert response.status_code == 403 and "expired" in response.content.decode()
    settings.APPROVAL_LINK_MAX_AGE_SECONDS = -1
    ApprovalGate.objects.filter(pk=gate.pk).update(deadline=None)
    assert "expired" in client.get(path).content.decode()
    assert not ApprovalEntry.objects.filter(kind__in=["approve", "reject"]).exists()
    gate.refresh_from_db()
    assert gate.status == "pending"


def test_the_inbox_lists_what_i_may_decide(client, eproject, team_users):
    run, gate = waiting_run(eproject, team_users.member)
    client.force_login(team_users.approver)
    body = client.get(reverse("approvals")).content.decode()
    assert gate.title in body
    client.force_login(team_users.viewer)
    assert gate.title not in client.get(reverse("approvals")).content.decode()
    client.force_login(team_users.outsider)
    assert client.get(reverse("approval_detail", args=[gate.pk])).status_code == 404


def test_deciding_and_commenting_on_the_gate_page(client, eproject, team_users):
    run, gate = waiting_run(eproject, team_users.member)
    client.force_login(team_users.approver)
    url = reverse("approval_detail", args=[gate.pk])
    client.post(url, {"action": "comment", "comment": "Looks fine"})
    first = ApprovalEntry.objects.get(kind="comment")
    client.post(url, {"action": "comment", "comment": "Agreed", "reply_to": first.pk})
    assert ApprovalEntry.objects.get(comment="Agreed").reply_to == first
    client.post(url, {"verdict": "approve"})
    gate.refresh_from_db()
    assert gate.status == "approved"
    page = client.get(url).content.decode()
    assert "Looks fine" in page and "Agreed" in page and "via Web" in page


def test_a_link_token_is_bound_to_its_gate_and_person(eproject, team_users):
    run, gate = waiting_run(eproject, team_users.member)
    invitation = ApprovalInvitation.objects.get(gate=gate, user=team_users.approver)
    token = link_token(invitation)
    other = ApprovalInvitation.objects.get(gate=gate, user=team_users.admin)
    assert token != link_token(other)


def test_each_approver_gets_the_email_in_their_language(eproject, team_users, smtp_server):
    from accounts.models import Profile

    Profile.objects.create(user=team_users.approver, language="th")
    waiting_run(eproject, team_users.member)
    subjects = {m.rcpt_tos[0]: str(m.message()["Subject"]).strip() for m in smtp_server}
    assert subjects["approver-user@example.com"].startswith("[SmartSpec] รอการอนุมัติ")
    assert subjects["admin-user@example.com"].startswith("[SmartSpec] Approval needed")
