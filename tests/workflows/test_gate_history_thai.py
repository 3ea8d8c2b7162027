"""A gate's history and its outcome are sentences of the domain: a Thai approver reads the
system's lines and the outcome on the gate's page in Thai, while the API (and what is
stored as the comment and the outcome) keeps the same English."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Profile
from tests.workflows.engine.conftest import drain, start, template
from tests.workflows.test_refusals import api, english_words, page_text, shown
from workflows.models import ApprovalGate, Run
from workflows.services.runs import run_cancel

pytestmark = pytest.mark.django_db


def waiting_gate(project, user, **gate_with) -> tuple[Run, ApprovalGate]:
    gate_with.setdefault("approvers", ["role:approver"])
    steps = [
        {"id": "before", "uses": "noop"},
        {"id": "review", "uses": "approval", "needs": ["before"], "with": gate_with},
        {"id": "after", "uses": "noop", "needs": ["review"]},
    ]
    run = drain(start(project, template(name="gated", steps=steps), user))
    assert run.status == "waiting"
    return run, ApprovalGate.objects.get(run=run)


def thai_reader(user) -> Client:
    Profile.objects.update_or_create(user=user, defaults={"language": "th"})
    reader = Client()
    reader.force_login(user)
    return reader


def system_lines(body: str) -> list[str]:
    """What the system wrote in the gate's history, as the page shows it."""
    return re.findall(r'<li class="entry entry-system">.*?<p>(.*?)</p>', body, re.DOTALL)


def vote(user, gate: ApprovalGate) -> None:
    voter = Client()
    voter.force_login(user)
    answer = voter.post(reverse("approval_detail", args=[gate.pk]), {"verdict": "approve", "comment": "ok"})
    assert answer.status_code == 302


def test_a_thai_reader_sees_a_gate_approved_by_quorum_in_thai(eproject, team_users):
    run, gate = waiting_gate(eproject, team_users.member, quorum=2)
    vote(team_users.approver, gate)
    vote(team_users.admin, gate)
    gate.refresh_from_db()
    assert gate.status == "approved"

    body = page_text(thai_reader(team_users.member).get(reverse("approval_detail", args=[gate.pk])))
    outcome = shown(body, r'<em data-testid="gate-outcome">')
    assert outcome.startswith("อนุมัติโดย ") and "approver-user" in outcome and "admin-user" in outcome
    assert english_words(outcome) == []
    [closed] = system_lines(body)
    assert closed.startswith("ด่านอนุมัติแล้ว: อนุมัติโดย ") and english_words(closed) == []
    # The people's own comments are shown as they wrote them; by which door, in Thai.
    assert body.count("<p>ok</p>") == 2
    assert body.count("ผ่าน เว็บ") == 2 and "ผ่าน ระบบ" in body and "via" not in body
    assert drain(run).status == "succeeded"

    answer = api(team_users.member).get(f"/api/v1/approvals/{gate.pk}")
    assert answer.status_code == 200
    names = gate.outcome.removeprefix("approved by ")
    assert sorted(names.split(", ")) == ["admin-user", "approver-user"]
    assert answer.json()["outcome"] == f"approved by {names}"
    said = [e["comment"] for e in answer.json()["entries"] if e["kind"] == "system"]
    assert said == [f"Gate approved: approved by {names}."]


def test_a_thai_reader_sees_a_gate_cancelled_with_its_run_in_thai(eproject, team_users):
    run, gate = waiting_gate(eproject, team_users.member)
    run_cancel(run=run, by=team_users.member, channel="web")

    reader = thai_reader(team_users.approver)
    body = page_text(reader.get(reverse("approval_detail", args=[gate.pk])))
    outcome = shown(body, r'<em data-testid="gate-outcome">')
    assert "รันถูกยกเลิก" in outcome and english_words(outcome) == []
    assert system_lines(body) == ["ด่านถูกยกเลิก: รันถูกยกเลิก"]
    # The inbox's recently decided gates say it the same way.
    inbox = page_text(reader.get(reverse("approvals")))
    assert " · รันถูกยกเลิก</span>" in inbox and "the run was cancelled" not in inbox

    answer = api(team_users.approver).get(f"/api/v1/approvals/{gate.pk}")
    assert answer.json()["outcome"] == "the run was cancelled"
    said = [e["comment"] for e in answer.json()["entries"] if e["kind"] == "system"]
    assert said == ["Gate cancelled: the run was cancelled."]


def test_a_thai_reader_sees_why_a_gate_can_never_reach_its_quorum_in_thai(eproject, team_users):
    _, gate = waiting_gate(eproject, team_users.member, quorum=3)

    body = page_text(thai_reader(team_users.member).get(reverse("approval_detail", args=[gate.pk])))
    [note] = system_lines(body)
    assert note.startswith("อนุมัติได้เพียง 2 คน") and "(3)" in note
    assert english_words(html.unescape(note)) == []

    answer = api(team_users.member).get(f"/api/v1/approvals/{gate.pk}")
    said = [e["comment"] for e in answer.json()["entries"] if e["kind"] == "system"]
    assert said == [
        "Only 2 person(s) may approve, fewer than the quorum of 3; the gate can only time out or be rejected."
    ]
