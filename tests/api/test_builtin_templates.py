"""The built-in templates on a database where nothing installed them: migrate writes no
rows, and every door finds them all the same (the first lookup installs them)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys

import pytest
import requests
from django.test import Client
from django.urls import reverse

from tests.conftest import make_user
from tests.processes import ROOT, start_daphne, subprocess_env
from workflows.models import BuiltinTemplateSet, Run, WorkflowTemplate
from workflows.services.templates import BUILTIN_DIR, templates_builtin_ensure

# Transactional: the database is flushed before each test, as after `migrate` on a new one.
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

BUILTINS = {"autopilot", "development-loop", "verify-and-sync"}
SPEC = "spec-core-001-authentication"


@pytest.fixture(autouse=True)
def nothing_installed() -> None:
    assert not WorkflowTemplate.objects.exists()


def test_after_a_flush_the_api_lists_the_builtin_templates(as_user, team_users):
    body = as_user(team_users.viewer).get("/workflows").json()
    assert {t["name"] for t in body["items"]} >= BUILTINS
    assert as_user(team_users.viewer).get("/workflows/autopilot").json()["builtin"] is True


def test_after_a_flush_the_page_lists_the_builtin_templates(client: Client, team_users):
    client.force_login(team_users.viewer)
    page = client.get(reverse("workflows")).content.decode()
    assert all(f"/workflows/{name}/" in page for name in BUILTINS), page


def test_after_a_flush_the_admin_lists_the_builtin_templates(client: Client, db):
    client.force_login(make_user("staff", is_staff=True, is_superuser=True))
    page = client.get("/admin/workflows/workflowtemplate/").content.decode()
    assert all(f">{name}</a>" in page for name in BUILTINS), page


def test_the_api_starts_a_builtin_workflow_by_name_on_a_fresh_database(as_user, team_users, project):
    response = as_user(team_users.member).post(
        "/runs", {"project": "acme-web", "workflow": "verify-and-sync", "spec_id": SPEC}
    )
    assert response.status_code == 201, response.content
    assert Run.objects.get(pk=response.json()["id"]).template_version.template.builtin


def test_the_page_starts_a_builtin_workflow_by_name_on_a_fresh_database(client: Client, team_users, project):
    client.force_login(team_users.member)
    response = client.post(
        reverse("run_create", args=[project.slug]), {"workflow": "verify-and-sync", "spec_id": SPEC}
    )
    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert run.template_version.template.name == "verify-and-sync"


def test_the_command_box_starts_a_builtin_workflow_on_a_fresh_database(as_user, team_users, project):
    response = as_user(team_users.member).post(
        "/intents", {"text": f"verify {SPEC}", "project": "acme-web", "execute": True}
    )
    assert response.status_code == 200, response.content
    assert Run.objects.get().template_version.template.name == "verify-and-sync"


def test_a_changed_builtin_file_installs_a_new_version_once(tmp_path, django_assert_num_queries):
    shipped = tmp_path / "builtin"
    shutil.copytree(BUILTIN_DIR, shipped)
    templates_builtin_ensure(directory=shipped)
    assert set(WorkflowTemplate.objects.values_list("name", flat=True)) == BUILTINS
    with django_assert_num_queries(1):  # installed: one look at the checksum, nothing written
        templates_builtin_ensure(directory=shipped)

    path = shipped / "verify-and-sync.yaml"
    path.write_text(path.read_text().replace("then sync the checkboxes", "then sync them"))
    templates_builtin_ensure(directory=shipped)
    templates_builtin_ensure(directory=shipped)
    numbers = {t.name: t.latest.number for t in WorkflowTemplate.objects.all()}
    assert numbers == {"autopilot": 1, "development-loop": 1, "verify-and-sync": 2}
    assert WorkflowTemplate.objects.get(name="verify-and-sync").description.endswith("then sync them.")
    assert BuiltinTemplateSet.objects.count() == 2


def test_a_staff_change_to_a_builtin_template_stays(as_user, team_users):
    staff = make_user("staff", is_staff=True)
    source = (BUILTIN_DIR / "development-loop.yaml").read_text().replace("mode: auto", "mode: supervised")
    response = as_user(staff).post("/workflows", source, "application/yaml")
    assert response.status_code == 201, response.content
    assert response.json()["latest_version"] == 2  # the save installed version 1 first
    templates_builtin_ensure()
    latest = WorkflowTemplate.objects.get(name="development-loop").latest
    assert (latest.number, latest.definition["mode"]) == (2, "supervised")


def test_migrate_then_serve_finds_the_builtin_templates(tmp_path):
    """What an operator does on a new machine: `manage.py migrate`, then serve."""
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SMARTSPEC_QUEUE_DB": str(tmp_path / "queue.sqlite3"),
        "SMARTSPEC_DATA_DIR": str(tmp_path),
    }

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=subprocess_env(**env),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    manage("migrate", "--noinput", "--verbosity", "0")
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM workflows_workflowtemplate").fetchone() == (0,)
    token = manage(
        "shell",
        "--verbosity",
        "0",
        "-c",
        "from django.contrib.auth.models import User; from accounts.services import token_create; "
        "print(token_create(user=User.objects.create_user('ops'), name='ops', channel='system')[1])",
    ).strip()
    server = start_daphne(**env)
    try:
        response = requests.get(
            f"{server.url}/api/v1/workflows", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
    finally:
        server.stop()
    assert response.status_code == 200, response.text
    assert {t["name"] for t in response.json()["items"]} >= BUILTINS
