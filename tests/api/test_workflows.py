"""Workflow templates over the API: JSON or YAML in, validated, versioned, 422 per field."""

from __future__ import annotations

import pytest

from accounts.models import AuditEntry
from workflows.models import WorkflowTemplate

pytestmark = pytest.mark.django_db

YAML = """\
name: review-then-verify
description: a reviewer first
steps:
  - id: review
    uses: approval
    with: {approvers: ["role:approver"], quorum: 1}
  - id: verify
    uses: verify_tasks
    needs: [review]
"""


def test_it_lists_the_builtin_templates(as_user, team_users):
    body = as_user(team_users.viewer).get("/workflows").json()
    names = {t["name"] for t in body["items"]}
    assert {"autopilot", "verify-and-sync", "development-loop"} <= names
    assert all(t["latest_version"] >= 1 for t in body["items"])


def test_one_template_with_its_definition_and_versions(as_user, team_users):
    body = as_user(team_users.viewer).get("/workflows/verify-and-sync").json()
    assert body["builtin"] is True
    assert [s["id"] for s in body["definition"]["steps"]] == ["verify", "review", "sync"]
    assert body["versions"][0]["number"] == body["latest_version"]
    assert as_user(team_users.viewer).get("/workflows/nope").status_code == 404


def test_a_team_admin_saves_a_json_template(as_user, team_users):
    doc = {"name": "json-one", "steps": [{"id": "a", "uses": "noop"}]}
    response = as_user(team_users.admin).post("/workflows", doc)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["latest_version"] == 1 and body["definition"] == doc
    assert body["versions"][0]["created_by"] == "admin-user"
    assert AuditEntry.objects.filter(action="workflows.template.saved", channel="api").exists()


def test_yaml_is_accepted_and_kept_as_submitted(as_user, team_users):
    response = as_user(team_users.admin).post("/workflows", YAML, "application/yaml")
    assert response.status_code == 201, response.content
    assert response.json()["source"] == YAML
    again = as_user(team_users.admin).post(
        "/workflows", YAML.replace("a reviewer first", "changed"), "text/yaml"
    )
    assert again.json()["latest_version"] == 2


def test_an_invalid_template_answers_422_naming_each_step_and_field(as_user, team_users):
    doc = {
        "name": "Bad Name",
        "steps": [
            {"id": "a", "uses": "teleport"},
            {"id": "b", "uses": "noop", "needs": ["ghost"]},
            {"id": "c", "uses": "shell", "with": {}},
        ],
    }
    response = as_user(team_users.admin).post("/workflows", doc)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_template"
    where = {(e["step"], e["field"]) for e in body["errors"]}
    assert {(None, "name"), ("a", "uses"), ("b", "needs"), ("c", "with.command")} <= where
    assert not WorkflowTemplate.objects.filter(name__in=["Bad Name", "bad-name"]).exists()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("name: [unclosed", "application/yaml"),
        ("{not json", "application/json"),
        ("- just\n- a list\n", "application/yaml"),
        ("  \n", "application/yaml"),
    ],
)
def test_unparseable_templates_are_422(as_user, team_users, body, content_type):
    response = as_user(team_users.admin).post("/workflows", body, content_type)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_template"


def test_other_media_types_are_415(as_user, team_users):
    response = as_user(team_users.admin).post("/workflows", "name: x", "text/plain")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_yaml_aliases_are_refused_before_they_can_expand(as_user, team_users):
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
    bomb += "name: bomb\nsteps: [{id: s, uses: noop, with: {message: *b}}]\n"
    response = as_user(team_users.admin).post("/workflows", bomb, "application/yaml")
    assert response.status_code == 422
    assert "alias" in response.json()["detail"]


@pytest.mark.parametrize("role", ["viewer", "member", "approver"])
def test_only_team_admins_save_templates(as_user, team_users, role):
    doc = {"name": "by-" + role, "steps": [{"id": "a", "uses": "noop"}]}
    response = as_user(getattr(team_users, role)).post("/workflows", doc)
    assert response.status_code == 403
    assert not WorkflowTemplate.objects.filter(name=doc["name"]).exists()


def test_builtin_templates_are_changed_by_staff_only(as_user, team_users):
    doc = {"name": "verify-and-sync", "steps": [{"id": "a", "uses": "noop"}]}
    assert as_user(team_users.admin).post("/workflows", doc).status_code == 403
    team_users.admin.is_staff = True
    team_users.admin.save()
    assert as_user(team_users.admin).post("/workflows", doc).status_code == 201
