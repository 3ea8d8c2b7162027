"""How a project's specs are read (format, specs folder, evidence settings): set through
the API, the project page and the admin with the same rules, and shown where specs are."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import AuditEntry, Profile
from tests.api.conftest import ApiClient, as_user  # noqa: F401  (fixture)
from workflows.models import Project

pytestmark = pytest.mark.django_db

FORMATS = Path(__file__).resolve().parents[1] / "fixtures" / "workspaces" / "formats"


@pytest.fixture
def kiro_project(team_users: Any, data_dir: Path) -> Project:
    root = data_dir / "workspaces" / "kiro"
    shutil.copytree(FORMATS / "kiro", root)
    return Project.objects.create(team=team_users.team, slug="kiro-app", name="Kiro app", workspace=str(root))


def test_the_api_says_which_format_each_spec_was_read_in(as_user, team_users, kiro_project):  # noqa: F811
    api = as_user(team_users.viewer)
    specs = api.get("/projects/kiro-app/specs").json()["items"]
    assert [(s["spec_id"], s["format"]) for s in specs] == [
        ("search", "kiro"),
        ("user-authentication", "kiro"),
    ]
    one = api.get("/projects/kiro-app/specs/user-authentication").json()
    assert one["status"]["format"] == "kiro" and one["status"]["has_plan"] is True
    tasks = {t["id"]: t for t in one["tasks"]}
    assert (tasks["2.1"]["optional"], tasks["2.1"]["parent"], tasks["1.2"]["in_progress"]) == (
        True,
        "2",
        True,
    )
    assert tasks["1.1"]["implicit_evidence"] is True and tasks["1.1"]["hooks"][0]["implicit"] is True
    assert one["status"]["tasks"] == {"total": 4, "checked": 2, "verified": 2}
    assert api.get("/projects/kiro-app").json()["spec_format"] == "auto"


def test_an_admin_sets_how_specs_are_read_through_the_api(as_user, team_users, kiro_project):  # noqa: F811
    api = as_user(team_users.admin)
    response = api.patch(
        "/projects/kiro-app",
        {
            "spec_format": "smartspec",
            "specs_root": ".kiro/specs",
            "implicit_evidence": "off",
            "source_roots": ["src"],
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["spec_format"], body["specs_root"], body["implicit_evidence"], body["source_roots"]) == (
        "smartspec",
        ".kiro/specs",
        "off",
        ["src"],
    )
    # Read as SmartSpec now: only the folder holding tasks.md is a spec.
    specs = api.get("/projects/kiro-app/specs").json()["items"]
    assert [(s["spec_id"], s["format"]) for s in specs] == [("user-authentication", "smartspec")]
    assert AuditEntry.objects.filter(action="workflows.project.updated", channel="api").count() == 1


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"specs_root": "../outside"}, "specs_root", "'..' is not allowed"),
        ({"specs_root": "/etc"}, "specs_root", "absolute paths are not allowed"),
        ({"source_roots": ["apps/web", "../../x"]}, "source_roots", "'..' is not allowed"),
        ({"spec_format": "markdown"}, "spec_format", "auto"),
        ({"implicit_evidence": "maybe"}, "implicit_evidence", "on"),
    ],
)
def test_bad_reading_settings_are_refused_and_change_nothing(
    as_user,  # noqa: F811
    team_users,
    kiro_project,
    body,
    field,
    message,
):
    response = as_user(team_users.admin).patch("/projects/kiro-app", body)
    assert response.status_code == 422, response.content
    answer = response.json()
    assert any(field in (e.get("field") or "") for e in answer["errors"]), answer
    assert message in str(answer)
    kiro_project.refresh_from_db()
    assert (kiro_project.spec_format, kiro_project.specs_root, kiro_project.source_roots) == ("auto", "", [])


@pytest.mark.parametrize("role", ["viewer", "member", "approver"])
def test_only_team_admins_change_reading_settings(as_user, team_users, kiro_project, client, role):  # noqa: F811
    user = getattr(team_users, role)
    assert as_user(user).patch("/projects/kiro-app", {"spec_format": "kiro"}).status_code == 403
    client.force_login(user)
    response = client.post(reverse("project_reading", args=["kiro-app"]), {"spec_format": "kiro"})
    assert response.status_code == 403
    page = client.get(reverse("project_detail", args=["kiro-app"])).content.decode()
    assert 'data-testid="reading-settings"' not in page
    kiro_project.refresh_from_db()
    assert kiro_project.spec_format == "auto"


def test_the_project_page_shows_the_format_and_lets_an_admin_change_it(client, team_users, kiro_project):
    client.force_login(team_users.admin)
    page = client.get(reverse("project_detail", args=["kiro-app"])).content.decode()
    assert "Read as Kiro from <code>.kiro/specs/</code> (detected)" in page
    assert 'data-testid="reading-settings"' in page
    response = client.post(
        reverse("project_reading", args=["kiro-app"]),
        {
            "spec_format": "kiro",
            "specs_root": "",
            "implicit_evidence": "off",
            "source_roots": "apps/web\n\n src/ ",
            "positional_task_ids": "on",
        },
        follow=True,
    )
    assert "Saved: the specs are read with the new settings." in response.content.decode()
    kiro_project.refresh_from_db()
    assert (kiro_project.spec_format, kiro_project.implicit_evidence, kiro_project.source_roots) == (
        "kiro",
        "off",
        ["apps/web", "src"],
    )
    assert kiro_project.positional_task_ids is True
    page = client.get(reverse("project_detail", args=["kiro-app"])).content.decode()
    assert "Read as Kiro from <code>.kiro/specs/</code>" in page and "(detected)" not in page


def test_the_page_refuses_a_specs_folder_outside_with_the_reason(client, team_users, kiro_project):
    client.force_login(team_users.admin)
    response = client.post(
        reverse("project_reading", args=["kiro-app"]),
        {"spec_format": "auto", "specs_root": "../../etc", "implicit_evidence": "auto", "source_roots": ""},
        follow=True,
    )
    body = response.content.decode()
    assert "Specs folder: &#x27;..&#x27; is not allowed in paths" in body
    kiro_project.refresh_from_db()
    assert kiro_project.specs_root == ""


def test_a_thai_admin_reads_why_a_folder_is_refused_in_thai(client, team_users, kiro_project):
    Profile.objects.create(user=team_users.admin, language="th")
    client.force_login(team_users.admin)
    response = client.post(
        reverse("project_reading", args=["kiro-app"]),
        {
            "spec_format": "auto",
            "specs_root": "",
            "implicit_evidence": "auto",
            "source_roots": "src\n../secrets",
        },
        follow=True,
    )
    said = html.unescape(re.findall(r'<li class="msg msg-error">(.*?)</li>', response.content.decode())[0])
    assert said.endswith("'../secrets': ไม่อนุญาต '..' ในพาธ: ให้ระบุโฟลเดอร์แบบสัมพัทธ์กับเวิร์กสเปซ เช่น docs/specs")
    assert "not allowed" not in said and "give a folder" not in said
    kiro_project.refresh_from_db()
    assert kiro_project.source_roots == []


def test_the_admin_applies_the_same_rule(client, team_users, kiro_project):
    team_users.admin.is_staff = team_users.admin.is_superuser = True
    team_users.admin.save()
    client.force_login(team_users.admin)
    url = reverse("admin:workflows_project_change", args=[kiro_project.pk])
    form = {
        "team": kiro_project.team_id,
        "slug": "kiro-app",
        "name": "Kiro app",
        "workspace": kiro_project.workspace,
        "shell_allowlist": "[]",
        "test_command": "python -m pytest -q",
        "quality_thresholds": "{}",
        "spec_format": "auto",
        "specs_root": "../secrets",
        "implicit_evidence": "auto",
        "source_roots": "[]",
        "created_at_0": "2026-01-01",
        "created_at_1": "00:00:00",
    }
    response = client.post(url, form)
    assert response.status_code == 200
    assert "&#x27;..&#x27; is not allowed in paths" in response.content.decode()
    kiro_project.refresh_from_db()
    assert kiro_project.specs_root == ""


def test_the_spec_page_names_the_format_and_shows_its_documents(client, team_users, kiro_project):
    client.force_login(team_users.viewer)
    page = client.get(reverse("spec_detail", args=["kiro-app", "user-authentication"])).content.decode()
    assert "Read as Kiro" in page and "<code>.kiro/specs/user-authentication/</code>" in page
    assert "requirements.md" in page and "design.md" in page and "Requirements Document" in page


def test_mixed_case_and_dotted_ids_have_working_pages(client, team_users, data_dir):
    root = data_dir / "workspaces" / "author"
    shutil.copytree(FORMATS / "smartspec", root)
    Project.objects.create(team=team_users.team, slug="author", name="Author", workspace=str(root))
    client.force_login(team_users.viewer)
    project_page = client.get(reverse("project_detail", args=["author"])).content.decode()
    for spec_id in ("012-AddTextClip", "v1.6-merge-import-export"):
        url = reverse("spec_detail", args=["author", spec_id])
        assert f'href="{url}"' in project_page
        assert client.get(url).status_code == 200
    assert "2 folders set aside" in project_page and "specs/_history" in project_page
    api = ApiClient(None)
    api.client.force_login(team_users.viewer)
    assert (
        api.get("/projects/author/specs/v1.6-merge-import-export").json()["spec_id"]
        == "v1.6-merge-import-export"
    )
    assert api.get("/projects/author/specs/..").status_code == 404


def test_the_spec_page_shows_task_markers_and_implicit_evidence(client, team_users, data_dir, kiro_project):
    root = data_dir / "workspaces" / "speckit"
    shutil.copytree(FORMATS / "spec-kit", root)
    Project.objects.create(team=team_users.team, slug="speckit", name="spec-kit app", workspace=str(root))
    client.force_login(team_users.viewer)
    page = client.get(reverse("spec_detail", args=["speckit", "001-photo-albums"])).content.decode()
    row = page[page.index('data-task="T002"') :].split("</tr>")[0]
    assert ">parallel<" in row and ">US1<" in row and ">P1<" in row and ">implicit<" in row
    assert 'data-task="FR-001"' not in page  # a coverage line, not a task
    assert "checklists/requirements.md" in page and "Specification Quality Checklist" in page
    kiro = client.get(reverse("spec_detail", args=["kiro-app", "user-authentication"])).content.decode()
    optional = kiro[kiro.index('data-task="2.1"') :].split("</tr>")[0]
    assert 'class="optional"' in optional and ">optional<" in optional and "under 2" in optional
    in_progress = kiro[kiro.index('data-task="1.2"') :].split("</tr>")[0]
    assert ">in progress<" in in_progress
