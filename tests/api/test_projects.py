"""Projects and specs: listing, creating (team admins), spec status and verification."""

from __future__ import annotations

import os

import pytest

from accounts.models import AuditEntry
from workflows.models import Project

pytestmark = pytest.mark.django_db

SPEC = "spec-core-001-authentication"


def test_it_lists_only_my_teams_projects(as_user, team_users, project, data_dir):
    Project.objects.create(
        team=team_users.other_team,
        slug="globex-web",
        name="Globex",
        workspace=str(data_dir / "workspaces" / "g"),
    )
    body = as_user(team_users.viewer).get("/projects").json()
    assert body["count"] == 1
    assert [p["slug"] for p in body["items"]] == ["acme-web"]
    assert body["items"][0]["team"] == "acme"


def test_a_team_admin_creates_a_project_and_it_is_audited(as_user, team_users, data_dir):
    (data_dir / "workspaces" / "ws").mkdir(parents=True)
    response = as_user(team_users.admin).post(
        "/projects",
        {
            "team": "acme",
            "slug": "new-one",
            "name": "New one",
            "workspace": str(data_dir / "workspaces" / "ws"),
            "shell_allowlist": ["pytest", "echo"],
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["shell_allowlist"] == ["echo", "pytest"]
    assert Project.objects.get(slug="new-one").team == team_users.team
    assert AuditEntry.objects.filter(action="workflows.project.created", channel="api").count() == 1


@pytest.mark.parametrize("role", ["viewer", "member", "approver"])
def test_only_team_admins_create_projects(as_user, team_users, data_dir, role):
    response = as_user(getattr(team_users, role)).post(
        "/projects",
        {
            "team": "acme",
            "slug": "nope",
            "name": "Nope",
            "workspace": str(data_dir),
        },
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not Project.objects.filter(slug="nope").exists()


def test_an_admin_of_another_team_cannot_create_in_mine(as_user, team_users, data_dir):
    response = as_user(team_users.outsider).post(
        "/projects",
        {
            "team": "acme",
            "slug": "nope",
            "name": "Nope",
            "workspace": str(data_dir),
        },
    )
    assert response.status_code == 404


@pytest.mark.parametrize("workspace", ["/etc", "relative/dir", "{data}/../../etc", "{data}/missing"])
def test_a_workspace_outside_the_allowed_roots_is_refused(as_user, team_users, data_dir, workspace):
    response = as_user(team_users.admin).post(
        "/projects",
        {
            "team": "acme",
            "slug": "bad-ws",
            "name": "Bad",
            "workspace": workspace.format(data=data_dir),
        },
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "workspace_not_allowed"
    assert body["errors"][0]["field"] == "workspace"
    assert not Project.objects.filter(slug="bad-ws").exists()


def test_a_symlinked_workspace_that_leads_outside_is_refused(as_user, team_users, data_dir):
    os.symlink("/etc", data_dir / "sneaky")
    response = as_user(team_users.admin).post(
        "/projects",
        {
            "team": "acme",
            "slug": "sneaky",
            "name": "Sneaky",
            "workspace": str(data_dir / "sneaky"),
        },
    )
    assert response.status_code == 422


def test_bad_fields_answer_422_with_field_errors(as_user, team_users, data_dir):
    response = as_user(team_users.admin).post(
        "/projects",
        {
            "team": "acme",
            "slug": "Bad Slug",
            "name": "",
            "workspace": str(data_dir),
            "shell_allowlist": ["/bin/sh"],
            "surprise": 1,
        },
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"slug", "name", "shell_allowlist.0", "surprise"} <= fields


def test_a_taken_slug_is_a_conflict(as_user, team_users, project, data_dir):
    response = as_user(team_users.admin).post(
        "/projects",
        {
            "team": "acme",
            "slug": "acme-web",
            "name": "Again",
            "workspace": str(data_dir),
        },
    )
    assert response.status_code == 409


def test_one_project(as_user, team_users, project):
    body = as_user(team_users.viewer).get("/projects/acme-web").json()
    assert body["name"] == "Acme web"
    assert body["url"] == "/projects/acme-web/"
    assert as_user(team_users.outsider).get("/projects/acme-web").status_code == 404


def test_it_lists_every_spec_with_status_and_next_step(as_user, team_users, project):
    body = as_user(team_users.viewer).get("/projects/acme-web/specs").json()
    by_id = {s["spec_id"]: s for s in body["items"]}
    assert body["count"] == len(by_id) >= 2
    auth = by_id[SPEC]
    assert auth["category"] == "core"
    assert auth["tasks"]["total"] > 0
    assert auth["next"]["workflow"] and auth["next"]["priority"] in ("high", "normal", "low")
    assert by_id["spec-feature-002-orders"]["next"]["workflow"] == "generate_plan"


def test_a_spec_shows_status_recommendation_and_each_tasks_verification(as_user, team_users, project):
    body = as_user(team_users.viewer).get(f"/projects/acme-web/specs/{SPEC}").json()
    assert body["spec_id"] == SPEC
    assert body["recommendation"]["workflow"]
    tasks = {t["id"]: t for t in body["tasks"]}
    assert tasks["TSK-AUTH-001"]["status"] == "verified"
    assert tasks["T007"]["status"] == "missing_evidence"
    # A hook that points outside the workspace is reported, never followed.
    assert tasks["T008"]["status"] == "invalid_scope"
    assert "root:" not in str(body)


@pytest.mark.parametrize("spec_id", ["..", "...", "spec-nope", "SPEC-CORE", "%2e%2e", "..%2f..%2fetc"])
def test_spec_ids_never_lead_outside_the_workspace(as_user, team_users, project, spec_id):
    response = as_user(team_users.viewer).get(f"/projects/acme-web/specs/{spec_id}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_project_whose_workspace_left_the_roots_is_not_read(as_user, team_users, project):
    Project.objects.filter(pk=project.pk).update(workspace="/etc")
    response = as_user(team_users.viewer).get("/projects/acme-web/specs")
    assert response.status_code == 409
    assert response.json()["code"] == "workspace_unavailable"


def test_specs_of_another_teams_project_are_404(as_user, team_users, project):
    api = as_user(team_users.outsider)
    assert api.get("/projects/acme-web/specs").status_code == 404
    assert api.get(f"/projects/acme-web/specs/{SPEC}").status_code == 404


def test_lists_are_paginated(as_user, team_users, project):
    body = as_user(team_users.viewer).get("/projects/acme-web/specs", limit=1, offset=1).json()
    assert body["limit"] == 1 and body["offset"] == 1
    assert len(body["items"]) == 1 and body["count"] >= 2
    too_big = as_user(team_users.viewer).get("/projects", limit=100_000)
    assert too_big.status_code == 422
    assert too_big.json()["errors"][0]["field"] == "limit"


def test_a_team_admin_changes_the_shell_allowlist_and_it_is_audited(as_user, team_users, project):
    from accounts.models import AuditEntry

    response = as_user(team_users.admin).patch(
        "/projects/acme-web", {"shell_allowlist": ["pytest", "make", "make"]}
    )
    assert response.status_code == 200
    assert response.json()["shell_allowlist"] == ["make", "pytest"]
    project.refresh_from_db()
    assert project.shell_allowlist == ["make", "pytest"]
    entry = AuditEntry.objects.get(action="workflows.project.updated")
    assert entry.actor == team_users.admin and entry.channel == "api"


def test_only_team_admins_change_a_project(as_user, team_users, project):
    for user in (team_users.viewer, team_users.member, team_users.approver):
        response = as_user(user).patch("/projects/acme-web", {"shell_allowlist": ["rm"]})
        assert response.status_code == 403, user
    assert as_user(team_users.outsider).patch("/projects/acme-web", {"name": "x"}).status_code == 404
    bad = as_user(team_users.admin).patch("/projects/acme-web", {"shell_allowlist": ["/bin/rm"]})
    assert bad.status_code == 422
    project.refresh_from_db()
    assert project.shell_allowlist == ["echo", "python"] and project.name == "Acme web"


def test_admins_set_the_base_branch_runs_start_from(as_user, team_users, project):
    admin = as_user(team_users.admin)
    assert admin.get("/projects/acme-web").json()["base_branch"] == ""
    response = admin.patch("/projects/acme-web", {"base_branch": "release/2.0"})
    assert response.status_code == 200 and response.json()["base_branch"] == "release/2.0"
    project.refresh_from_db()
    assert project.base_branch == "release/2.0"
    for bad in ("-x", "a b", "../etc", "x" * 201):
        assert admin.patch("/projects/acme-web", {"base_branch": bad}).status_code == 422, bad
    assert admin.patch("/projects/acme-web", {"base_branch": ""}).json()["base_branch"] == ""


def test_admins_set_how_approved_reviews_merge(as_user, team_users, project, data_dir):
    admin = as_user(team_users.admin)
    assert admin.get("/projects/acme-web").json()["merge_strategy"] == "merge_commit"
    assert (
        as_user(team_users.member).patch("/projects/acme-web", {"merge_strategy": "fast_forward"}).status_code
        == 403
    )
    response = admin.patch("/projects/acme-web", {"merge_strategy": "fast_forward"})
    assert response.status_code == 200 and response.json()["merge_strategy"] == "fast_forward"
    project.refresh_from_db()
    assert project.merge_strategy == "fast_forward"
    assert AuditEntry.objects.filter(
        action="workflows.project.updated", data__after__merge_strategy="fast_forward"
    ).exists()
    assert admin.patch("/projects/acme-web", {"merge_strategy": "squash"}).status_code == 422
    (data_dir / "workspaces" / "ff").mkdir(parents=True)
    body = {"team": "acme", "slug": "ff", "name": "FF", "workspace": str(data_dir / "workspaces" / "ff")}
    created = admin.post("/projects", {**body, "merge_strategy": "fast_forward"})
    assert created.status_code == 201 and created.json()["merge_strategy"] == "fast_forward"


def test_the_project_pages_git_settings_set_the_merge_strategy(client, team_users, project):
    client.force_login(team_users.admin)
    page = client.get("/projects/acme-web/").content.decode()
    assert 'name="merge_strategy"' in page
    client.post("/projects/acme-web/git/", {"base_branch": "", "merge_strategy": "fast_forward"})
    project.refresh_from_db()
    assert project.merge_strategy == "fast_forward"
    client.post("/projects/acme-web/git/", {"base_branch": ""})  # not sent: kept as it is
    project.refresh_from_db()
    assert project.merge_strategy == "fast_forward"
    client.post("/projects/acme-web/git/", {"base_branch": "", "merge_strategy": "squash"})
    project.refresh_from_db()
    assert project.merge_strategy == "fast_forward"
