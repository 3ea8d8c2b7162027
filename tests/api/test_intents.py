"""POST /intents: understand free text; with execute, act under the caller's permissions."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from workflows.models import Project, Run, WorkflowTemplate
from workflows.services.runs import run_cancel
from workflows.services.templates import templates_builtin_ensure

pytestmark = pytest.mark.django_db

SPEC = "spec-core-001-authentication"


def test_it_parses_without_doing_anything(as_user, team_users, project):
    response = as_user(team_users.viewer).post("/intents", {"text": f"please verify {SPEC}"})
    assert response.status_code == 200
    body = response.json()
    assert body["intent"] == "verify" and body["spec_id"] == SPEC
    assert 0 < body["confidence"] <= 1
    assert body["action"]["kind"] == "start_workflow"
    assert body["action"]["workflow"] == "verify-and-sync"
    assert body["executed"] is False and body["run"] is None
    assert not Run.objects.exists()


def test_a_project_lets_short_ids_expand(as_user, team_users, project):
    body = (
        as_user(team_users.viewer)
        .post("/intents", {"text": "status of core-001", "project": "acme-web"})
        .json()
    )
    assert body["intent"] == "status" and body["spec_id"] == SPEC


def test_thai_text_is_understood(as_user, team_users, project):
    body = as_user(team_users.viewer).post("/intents", {"text": f"ตรวจสอบ {SPEC} หน่อย"}).json()
    assert body["intent"] == "verify" and body["spec_id"] == SPEC


def test_executing_a_status_request_reads_the_specs(as_user, team_users, project):
    body = (
        as_user(team_users.viewer)
        .post("/intents", {"text": f"status of {SPEC}", "project": "acme-web", "execute": True})
        .json()
    )
    assert body["executed"] is True
    assert [s["spec_id"] for s in body["specs"]] == [SPEC]
    assert body["specs"][0]["next"]["workflow"]


def test_executing_a_verify_request_starts_the_workflow(as_user, team_users, project):
    response = as_user(team_users.member).post(
        "/intents", {"text": f"verify {SPEC}", "project": "acme-web", "execute": True}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["executed"] is True
    run = Run.objects.get(pk=body["run"]["id"])
    assert (run.workflow_name, run.spec_id, run.started_by) == (
        "verify-and-sync",
        SPEC,
        team_users.member,
    )


def test_run_starts_the_autopilot_for_the_named_spec(as_user, team_users, project):
    pytest.importorskip("workflows.engine.autopilot")
    response = as_user(team_users.member).post(
        "/intents", {"text": f"run autopilot on {SPEC}", "project": "acme-web", "execute": True}
    )
    assert response.status_code == 200, response.content
    assert Run.objects.get(pk=response.json()["run"]["id"]).workflow_name == "autopilot"


def test_viewers_cannot_start_workflows_by_intent(as_user, team_users, project):
    response = as_user(team_users.viewer).post(
        "/intents", {"text": f"verify {SPEC}", "project": "acme-web", "execute": True}
    )
    assert response.status_code == 403
    assert not Run.objects.exists()


def test_execute_needs_a_project_and_a_spec(as_user, team_users, project):
    api = as_user(team_users.member)
    no_project = api.post("/intents", {"text": f"verify {SPEC}", "execute": True})
    assert no_project.status_code == 422
    assert no_project.json()["errors"][0]["field"] == "project"
    assert no_project.json()["detail"] == "Name the project to act in."
    no_spec = api.post("/intents", {"text": "verify it", "project": "acme-web", "execute": True})
    assert no_spec.status_code == 422
    assert no_spec.json()["code"] == "invalid" and no_spec.json()["errors"][0]["field"] == "text"
    unknown = api.post("/intents", {"text": "verify spec-nowhere", "project": "acme-web", "execute": True})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "spec_id"
    assert not Run.objects.exists()


def test_the_status_of_an_unknown_spec_is_404(as_user, team_users, project):
    response = as_user(team_users.viewer).post(
        "/intents", {"text": "status of spec-nowhere", "project": "acme-web", "execute": True}
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "No spec 'spec-nowhere' in this project.", "code": "not_found"}


def test_a_workflow_that_is_not_installed_is_422(as_user, team_users, project):
    templates_builtin_ensure()  # else the first lookup would install it
    WorkflowTemplate.objects.filter(name="verify-and-sync").delete()
    response = as_user(team_users.member).post(
        "/intents", {"text": f"verify {SPEC}", "project": "acme-web", "execute": True}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "No workflow named 'verify-and-sync'."
    assert not Run.objects.exists()


def test_a_workspace_outside_the_allowed_roots_is_409(as_user, team_users, project, tmp_path_factory):
    Project.objects.filter(pk=project.pk).update(workspace=str(tmp_path_factory.mktemp("elsewhere")))
    response = as_user(team_users.viewer).post("/intents", {"text": "status", "project": "acme-web"})
    assert response.status_code == 409 and response.json()["code"] == "workspace_unavailable"


def test_edits_are_only_proposed(as_user, team_users, project):
    body = (
        as_user(team_users.member)
        .post("/intents", {"text": f"rename {SPEC}", "project": "acme-web", "execute": True})
        .json()
    )
    assert body["intent"] == "modify" and body["executed"] is False
    assert body["message"] == "Spec edits are proposed, never applied from a command; open the spec to edit."


def test_another_teams_project_is_404(as_user, team_users, project):
    response = as_user(team_users.outsider).post(
        "/intents", {"text": f"status of {SPEC}", "project": "acme-web", "execute": True}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "x" * 2001}, {"text": 5}])
def test_bad_intent_bodies_are_422(as_user, team_users, body):
    assert as_user(team_users.viewer).post("/intents", body).status_code == 422


# (role, text, the API's status): the command box must do what the API does for each.
SAME_TEXT = [
    ("member", f"verify {SPEC}", 200),
    ("member", "verify core-001", 200),
    ("viewer", f"verify {SPEC}", 403),
    ("member", "verify it", 422),
    ("member", "verify spec-nowhere", 422),
    ("member", f"status of {SPEC}", 200),
    ("member", "status of spec-nowhere", 404),
    ("member", f"rename {SPEC}", 200),
    ("member", "good morning", 200),
]


@pytest.mark.parametrize(("role", "text", "status"), SAME_TEXT)
def test_the_command_box_and_the_api_carry_out_text_the_same_way(
    client, as_user, team_users, project, role, text, status
):
    user = getattr(team_users, role)
    answer = as_user(user).post("/intents", {"text": text, "project": "acme-web", "execute": True})
    assert answer.status_code == status, answer.content
    body = answer.json()
    if status == 200 and body["run"]:
        # One run of a workflow on a spec is active at a time: end the API's run so the
        # command box may start its own (a second start would answer 409 naming it).
        run_cancel(run=Run.objects.get(pk=body["run"]["id"]), by=user, channel="api")
    client.force_login(user)
    page = client.post(reverse("command", args=["acme-web"]), {"text": text, "confirm": "1"})
    if status == 200 and body["run"]:
        by_api = Run.objects.get(pk=body["run"]["id"])
        by_page = Run.objects.exclude(pk=by_api.pk).get()
        assert by_page.status != "cancelled"
        assert page.status_code == 302 and page["Location"] == by_page.get_absolute_url()
        assert (by_page.workflow_name, by_page.spec_id) == (by_api.workflow_name, by_api.spec_id)
    else:
        said = body["message"] if status == 200 else body["detail"]
        assert page.status_code == 200 and escape(said) in page.content.decode()
        assert not Run.objects.exists()
