"""Approval gates over the API: my inbox, one gate's history, deciding."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from accounts.models import AuditEntry
from tests.api.conftest import save_template
from workflows.engine.approval_mail import link_token
from workflows.models import ApprovalGate, Run

pytestmark = pytest.mark.django_db

FORM = [
    {"name": "risk", "type": "choice", "choices": ["low", "high"], "required": True},
    {"name": "hours", "type": "number", "min": 0, "max": 10},
]


def test_the_inbox_lists_the_gates_i_may_decide(as_user, team_users, open_gate):
    gate = open_gate()
    mine = as_user(team_users.approver).get("/approvals", status="pending").json()
    assert [g["id"] for g in mine["items"]] == [gate.pk]
    assert mine["items"][0]["project"] == "acme-web" and mine["items"][0]["step"] == "review"
    # Not invited (role:approver leaves members out), not in the team: nothing to decide.
    assert as_user(team_users.member).get("/approvals").json()["count"] == 0
    assert as_user(team_users.outsider).get("/approvals").json()["count"] == 0


def test_a_gate_i_voted_on_leaves_my_inbox(as_user, team_users, open_gate):
    gate = open_gate(quorum=2)
    api = as_user(team_users.approver)
    assert api.post(f"/approvals/{gate.pk}/decisions", {"verdict": "approve"}).status_code == 201
    assert api.get("/approvals").json()["count"] == 0
    assert as_user(team_users.admin).get("/approvals").json()["count"] == 1


def test_other_statuses_list_my_teams_gates(as_user, team_users, open_gate):
    gate = open_gate()
    ApprovalGate.objects.filter(pk=gate.pk).update(status="approved")
    body = as_user(team_users.viewer).get("/approvals", status="approved").json()
    assert [g["id"] for g in body["items"]] == [gate.pk]
    assert as_user(team_users.outsider).get("/approvals", status="approved").json()["count"] == 0


def test_one_gate_with_its_threaded_history(as_user, team_users, open_gate):
    gate = open_gate(quorum=2, form=FORM, timeout="2h", on_timeout="reject")
    as_user(team_users.approver).post(
        f"/approvals/{gate.pk}/decisions",
        {"verdict": "approve", "comment": "fine by me", "form": {"risk": "low"}},
    )
    body = as_user(team_users.viewer).get(f"/approvals/{gate.pk}").json()
    assert body["status"] == "pending" and body["quorum"] == 2
    assert body["deadline"] is not None and body["form"] == FORM
    assert {i["user"]: i["voted"] for i in body["invitations"]} == {
        "approver-user": "approve",
        "admin-user": None,
    }
    assert [(v["user"], v["kind"], v["comment"], v["channel"]) for v in body["votes"]] == [
        ("approver-user", "approve", "fine by me", "api")
    ]
    assert body["entries"][0]["form_data"] == {"risk": "low"}
    assert body["may_decide"] is False  # a viewer
    assert as_user(team_users.admin).get(f"/approvals/{gate.pk}").json()["may_decide"] is True


def test_an_invited_approver_decides_and_it_is_audited(as_user, team_users, open_gate):
    gate = open_gate()
    response = as_user(team_users.approver).post(
        f"/approvals/{gate.pk}/decisions", {"verdict": "reject", "comment": "not yet"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "rejected"
    entry = AuditEntry.objects.get(action="workflows.approval.decided")
    assert entry.channel == "api" and entry.actor == team_users.approver
    gate.refresh_from_db()
    assert gate.run.steps.get(key="review").status == "failed"


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_people_who_are_not_invited_get_403(as_user, team_users, open_gate, role):
    gate = open_gate()
    response = as_user(getattr(team_users, role)).post(
        f"/approvals/{gate.pk}/decisions", {"verdict": "approve"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert ApprovalGate.objects.get(pk=gate.pk).status == "pending"


def test_a_viewer_named_as_approver_still_only_reads(as_user, team_users, open_gate):
    gate = open_gate(approvers=["viewer-user"])
    response = as_user(team_users.viewer).post(f"/approvals/{gate.pk}/decisions", {"verdict": "approve"})
    assert response.status_code == 403


def test_the_person_who_started_the_run_may_not_approve_it(as_user, team_users, open_gate):
    gate = open_gate(approvers=["member-user", "approver-user"])  # member started the run
    response = as_user(team_users.member).post(f"/approvals/{gate.pk}/decisions", {"verdict": "approve"})
    assert response.status_code == 403


def test_a_decided_gate_is_a_conflict(as_user, team_users, open_gate):
    gate = open_gate()
    as_user(team_users.approver).post(f"/approvals/{gate.pk}/decisions", {"verdict": "approve"})
    late = as_user(team_users.admin).post(f"/approvals/{gate.pk}/decisions", {"verdict": "reject"})
    assert late.status_code == 409
    assert late.json()["code"] == "conflict"


def test_a_bad_form_answers_422_with_field_errors(as_user, team_users, open_gate):
    gate = open_gate(form=FORM)
    response = as_user(team_users.approver).post(
        f"/approvals/{gate.pk}/decisions",
        {"verdict": "approve", "form": {"risk": "extreme", "hours": 99, "extra": 1}},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert {e["field"] for e in body["errors"]} == {"risk", "hours", "extra"}
    assert ApprovalGate.objects.get(pk=gate.pk).status == "pending"


@pytest.mark.parametrize("body", [{"verdict": "maybe"}, {}, {"verdict": "approve", "form": []}])
def test_a_bad_decision_body_is_422(as_user, team_users, open_gate, body):
    gate = open_gate()
    response = as_user(team_users.approver).post(f"/approvals/{gate.pk}/decisions", body)
    assert response.status_code == 422


def test_other_teams_gates_are_404(as_user, team_users, open_gate):
    gate = open_gate()
    api = as_user(team_users.outsider)
    assert api.get(f"/approvals/{gate.pk}").status_code == 404
    assert api.post(f"/approvals/{gate.pk}/decisions", {"verdict": "approve"}).status_code == 404


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_decision_lets_the_run_go_on(as_user, team_users, project):
    """End to end in-process: the worker opens the gate, the API decides, the run ends."""
    from tests.workflows.engine.conftest import drain
    from workflows.services.runs import run_start

    version = save_template(
        {
            "name": "gate-then-noop",
            "steps": [
                {"id": "review", "uses": "approval", "with": {"approvers": ["role:approver"]}},
                {"id": "after", "uses": "noop", "needs": ["review"]},
            ],
        }
    )
    run = drain(run_start(project=project, version=version, started_by=team_users.member, channel="web"))
    assert run.status == Run.Status.WAITING
    gate = ApprovalGate.objects.get(run=run)
    decided = as_user(team_users.approver).post(
        f"/approvals/{gate.pk}/decisions", {"verdict": "approve", "comment": "go"}
    )
    assert decided.status_code == 201
    run = drain(run)
    assert run.status == Run.Status.SUCCEEDED
    types = [e["type"] for e in as_user(team_users.viewer).get(f"/runs/{run.pk}/events").json()["items"]]
    assert "approval.requested" in types and "approval.decided" in types
    assert types[-1] == "run.succeeded"


@pytest.mark.parametrize("door", ["page", "link"])
def test_a_refused_decision_on_a_page_keeps_the_comment_written_for_it(team_users, open_gate, door):
    gate = open_gate(form=FORM)
    comment = "src/auth/views.py:5\n> # TSK-AUTH-003: ratelimit\nUse the limiter <here>."
    body = {"verdict": "approve", "comment": comment}  # the form's required risk is missing
    if door == "page":
        client = Client()
        client.force_login(team_users.approver)
        response = client.post(f"/approvals/{gate.pk}/", body)
    else:
        token = link_token(gate.invitations.get(user=team_users.approver))
        response = Client().post(reverse("approval_link", args=[token]), body)
    assert response.status_code == 422
    page = response.content.decode()
    assert f'name="comment" rows="2">{escape(comment)}</textarea>' in page
    assert ApprovalGate.objects.get(pk=gate.pk).status == "pending"
