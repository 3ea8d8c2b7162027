"""Runs over the API: start, list with filters, read with steps, control, events."""

from __future__ import annotations

import pytest

from accounts.models import AuditEntry
from workflows.engine.journal import event_append
from workflows.models import Run, Step

pytestmark = pytest.mark.django_db

SPEC = "spec-core-001-authentication"


def test_a_member_starts_a_run_and_gets_201_with_its_id(as_user, team_users, project, tiny_workflow):
    response = as_user(team_users.member).post(
        "/runs", {"project": "acme-web", "workflow": "tiny", "params": {"depth": 2}}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    run = Run.objects.get(pk=body["id"])
    assert run.started_by == team_users.member and run.params == {"depth": 2}
    assert body["status"] in ("queued", "running")
    assert [s["key"] for s in body["steps"]] == ["only"]
    assert body["url"] == f"/runs/{run.pk}/"
    audit = AuditEntry.objects.filter(action="workflows.run.started")
    assert audit.count() == 1 and audit.get().channel == "api"


def test_a_run_can_name_a_spec_of_the_project(as_user, team_users, project, tiny_workflow):
    response = as_user(team_users.member).post(
        "/runs", {"project": "acme-web", "workflow": "tiny", "spec_id": SPEC}
    )
    assert response.status_code == 201
    assert response.json()["spec_id"] == SPEC


def test_viewers_cannot_start_runs(as_user, team_users, project, tiny_workflow):
    response = as_user(team_users.viewer).post("/runs", {"project": "acme-web", "workflow": "tiny"})
    assert response.status_code == 403
    assert not Run.objects.exists()


def test_a_saved_version_the_format_now_refuses_cannot_start_and_says_why(
    as_user, team_users, project, tiny_workflow
):
    # Stored by an earlier release that let an unknown key through.
    tiny_workflow.definition = {"name": "tiny", "steps": [{"id": "only", "uses": "noop", "colour": "red"}]}
    tiny_workflow.save(update_fields=["definition"])
    response = as_user(team_users.member).post("/runs", {"project": "acme-web", "workflow": "tiny"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("Version 1 of the workflow tiny no longer passes validation (step 'only'")
    assert "colour" in detail and detail.endswith("save the template again to run it.")
    assert not Run.objects.exists()


def test_another_teams_project_is_404(as_user, team_users, project, tiny_workflow):
    response = as_user(team_users.outsider).post("/runs", {"project": "acme-web", "workflow": "tiny"})
    assert response.status_code == 404
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"project": "acme-web", "workflow": "nope"}, "workflow"),
        ({"project": "acme-web", "workflow": "../tiny"}, "workflow"),
        ({"project": "acme-web", "workflow": "tiny", "spec_id": "../../etc"}, "spec_id"),
        ({"project": "acme-web", "workflow": "tiny", "spec_id": "/etc/passwd"}, "spec_id"),
        ({"project": "acme-web", "workflow": "tiny", "spec_id": "spec-missing"}, "spec_id"),
        ({"project": "acme-web", "workflow": "tiny", "params": []}, "params"),
        ({"project": "acme-web"}, "workflow"),
    ],
)
def test_bad_run_requests_are_422_with_the_field(as_user, team_users, project, tiny_workflow, body, field):
    response = as_user(team_users.member).post("/runs", body)
    assert response.status_code == 422, response.content
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not Run.objects.exists()


def test_runs_are_listed_with_filters(as_user, team_users, project, tiny_workflow, acme_run):
    api = as_user(team_users.member)
    api.post("/runs", {"project": "acme-web", "workflow": "tiny", "spec_id": SPEC})
    Run.objects.filter(pk=acme_run.pk).update(status=Run.Status.FAILED)
    assert api.get("/runs").json()["count"] == 2
    assert [r["id"] for r in api.get("/runs", status="failed").json()["items"]] == [acme_run.pk]
    assert api.get("/runs", spec_id=SPEC).json()["count"] == 1
    assert api.get("/runs", project="acme-web").json()["count"] == 2
    assert api.get("/runs", project="other").json()["count"] == 0
    assert api.get("/runs", status="bogus").status_code == 422
    page = api.get("/runs", limit=1).json()
    assert page["count"] == 2 and len(page["items"]) == 1


def test_one_run_with_its_steps(as_user, team_users, acme_run):
    body = as_user(team_users.viewer).get(f"/runs/{acme_run.pk}").json()
    assert body["workflow"] == "tiny" and body["version"] == 1
    assert body["steps"][0]["kind"] == "noop"
    assert body["steps"][0]["status"] in {c.value for c in Step.Status}
    assert as_user(team_users.outsider).get(f"/runs/{acme_run.pk}").status_code == 404
    assert as_user(team_users.viewer).get("/runs/999999").status_code == 404


def test_cancel_then_retry_then_409s(as_user, team_users, acme_run):
    api = as_user(team_users.member)
    cancelled = api.post(f"/runs/{acme_run.pk}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = api.post(f"/runs/{acme_run.pk}/cancel")
    assert again.status_code == 409
    assert again.json() == {
        "detail": f"Run {acme_run.pk} is already cancelled.",
        "code": "conflict",
    }
    # Resume is for failed runs only; retry takes a cancelled one back.
    assert api.post(f"/runs/{acme_run.pk}/resume").status_code == 409
    retried = api.post(f"/runs/{acme_run.pk}/retry")
    assert retried.status_code == 200
    assert retried.json()["status"] in ("queued", "running")
    assert api.post(f"/runs/{acme_run.pk}/retry").status_code == 409
    actions = set(AuditEntry.objects.filter(channel="api").values_list("action", flat=True))
    assert {"workflows.run.cancelled", "workflows.run.retried"} <= actions


def test_a_failed_run_resumes(as_user, team_users, acme_run):
    Run.objects.filter(pk=acme_run.pk).update(status=Run.Status.FAILED)
    Step.objects.filter(run=acme_run).update(status=Step.Status.FAILED)
    response = as_user(team_users.member).post(f"/runs/{acme_run.pk}/resume")
    assert response.status_code == 200
    assert response.json()["steps"][0]["status"] == "queued"


@pytest.mark.parametrize("verb", ["cancel", "resume", "retry"])
def test_viewers_cannot_control_runs(as_user, team_users, acme_run, verb):
    response = as_user(team_users.viewer).post(f"/runs/{acme_run.pk}/{verb}")
    assert response.status_code == 403
    acme_run.refresh_from_db()
    assert acme_run.status != Run.Status.CANCELLED


def test_events_after_a_sequence_number(as_user, team_users, acme_run):
    from django.db import transaction

    with transaction.atomic():
        for i in range(5):
            event_append(run_id=acme_run.pk, type="step.log", data={"line": f"line {i}"})
    api = as_user(team_users.viewer)
    everything = api.get(f"/runs/{acme_run.pk}/events").json()
    seqs = [e["seq"] for e in everything["items"]]
    assert seqs == list(range(1, len(seqs) + 1)) and not everything["more"]
    assert everything["last_seq"] == seqs[-1]
    first = everything["items"][0]
    assert set(first) == {"seq", "type", "step", "data", "at"}
    after = api.get(f"/runs/{acme_run.pk}/events", after=seqs[-3]).json()
    assert [e["seq"] for e in after["items"]] == seqs[-2:]
    page = api.get(f"/runs/{acme_run.pk}/events", after=0, limit=2).json()
    assert [e["seq"] for e in page["items"]] == [1, 2] and page["more"] and page["last_seq"] == 2
    assert api.get(f"/runs/{acme_run.pk}/events", after=-1).status_code == 422
    assert as_user(team_users.outsider).get(f"/runs/{acme_run.pk}/events").status_code == 404
