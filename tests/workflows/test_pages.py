from __future__ import annotations

import pytest
from django.urls import reverse

from workflows.models import Project

pytestmark = pytest.mark.django_db


def test_the_dashboard_lists_my_teams_projects_only(client, team_users, project):
    Project.objects.create(
        team=team_users.other_team, slug="secret", name="Globex secret", workspace="/srv/globex"
    )
    client.force_login(team_users.viewer)
    body = client.get(reverse("dashboard")).content.decode()
    assert "Acme web" in body
    assert "Globex secret" not in body


def test_a_member_of_another_team_gets_404_for_a_project(client, team_users, project):
    client.force_login(team_users.outsider)
    response = client.get(reverse("project_detail", args=[project.slug]))
    assert response.status_code == 404
    assert "Acme web" not in response.content.decode()


def test_a_team_member_sees_the_project(client, team_users, project):
    client.force_login(team_users.viewer)
    response = client.get(reverse("project_detail", args=[project.slug]))
    assert response.status_code == 200
    assert "Acme web" in response.content.decode()


def test_an_unknown_page_is_a_clear_404_not_a_traceback(client, team_users):
    client.force_login(team_users.viewer)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()


def test_the_admin_lists_users_teams_memberships_and_tokens_for_staff(client, team_users):
    team_users.admin.is_staff = team_users.admin.is_superuser = True
    team_users.admin.save()
    client.force_login(team_users.admin)
    for name in [
        "auth/user",
        "accounts/team",
        "accounts/membership",
        "accounts/apitoken",
        "accounts/auditentry",
    ]:
        response = client.get(f"/admin/{name}/?q=acme")
        assert response.status_code == 200, name
    response = client.get("/admin/accounts/membership/?role__exact=viewer")
    assert "viewer-user" in response.content.decode()
    assert "member-user" not in response.content.decode()


def test_the_admin_is_closed_to_non_staff(client, team_users):
    # A signed-in user who is not staff gets a page saying the admin is for staff (not the
    # admin's own sign-in form, which looked like their password had failed).
    client.force_login(team_users.admin)
    response = client.get("/admin/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "For staff only" in body and body.count("<h1") == 1
    assert client.get("/ops/performance/").status_code == 403
    assert "For staff only" in client.get("/ops/performance/").content.decode()
    client.logout()
    assert client.get("/admin/").status_code == 302  # anonymous: the admin's sign-in form


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_admin_console_lists_runs_and_cancels_them(client, team_users, project):
    from tests.workflows.engine.conftest import start, template

    run = start(project, template(name="adm", steps=[{"id": "a", "uses": "noop", "with": {"sleep": 5}}]))
    team_users.admin.is_staff = team_users.admin.is_superuser = True
    team_users.admin.save()
    client.force_login(team_users.admin)
    listing = client.get("/admin/workflows/run/?status__exact=running&age=1h").content.decode()
    assert f"/admin/workflows/run/{run.pk}/change/" in listing
    for name in ["step", "event", "approvalgate", "workflowtemplate", "workercluster", "project"]:
        assert client.get(f"/admin/workflows/{name}/").status_code == 200, name
    client.post("/admin/workflows/run/", {"action": "cancel_runs", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert client.get("/admin/django_q/schedule/").status_code == 200


def test_templates_are_edited_in_the_admin_as_new_validated_versions(client, team_users):
    from workflows.models import WorkflowTemplate
    from workflows.services.templates import template_save

    template_save(
        source="name: tiny\nsteps:\n  - id: a\n    uses: noop\n",
        content_type="application/yaml",
        created_by=None,
        channel="system",
    )
    template = WorkflowTemplate.objects.get(name="tiny")
    team_users.admin.is_staff = team_users.admin.is_superuser = True
    team_users.admin.save()
    client.force_login(team_users.admin)
    url = f"/admin/workflows/workflowtemplate/{template.pk}/change/"
    assert "uses: noop" in client.get(url).content.decode()
    bad = client.post(url, {"source": "name: tiny\nsteps:\n  - id: a\n    uses: nope\n", **_no_inline()})
    assert "unknown step kind" in bad.content.decode()
    assert template.versions.count() == 1
    good = "name: tiny\nsteps:\n  - id: a\n    uses: noop\n  - id: b\n    uses: noop\n    needs: [a]\n"
    response = client.post(url, {"source": good, **_no_inline()})
    assert response.status_code == 302
    assert template.versions.count() == 2
    assert template.latest.steps[1]["id"] == "b"


def _no_inline() -> dict[str, str]:
    return {
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
