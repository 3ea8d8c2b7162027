"""backup → restore into a fresh, empty database → every table equal, row for row."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import Team
from accounts.services import audit_record, token_create
from tests.ops.conftest import pending_gate
from tests.processes import ROOT, _database_url, subprocess_env
from tests.workflows.engine.conftest import drain, start, template
from workflows.models import Event, Project

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, databases="__all__")]

# Every model (auto-created many-to-many tables and django-q2's included) and each
# database's migration history, as JSON, ordered by primary key.
DUMP = """
import io
import json
import django
django.setup()
from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, router

tables = {}
for model in apps.get_models(include_auto_created=True):
    if model._meta.proxy or not model._meta.managed:
        continue
    db = router.db_for_read(model)
    tables[model._meta.db_table] = list(model._base_manager.using(db).order_by("pk").values())
for alias in connections:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT app, name, applied FROM django_migrations ORDER BY app, name")
        tables[f"{alias}:django_migrations"] = cursor.fetchall()
print(json.dumps(tables, cls=DjangoJSONEncoder, sort_keys=True))
"""


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def dump(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", DUMP],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "DJANGO_SETTINGS_MODULE": "smartspec.settings", "LOG_LEVEL": "WARNING"},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def empty_target(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of an installation with a new data directory and an empty database."""
    data_dir = tmp_path / "restored"
    data_dir.mkdir()
    env = {
        k: v
        for k, v in subprocess_env().items()
        if k not in ("DATABASE_URL", "SMARTSPEC_QUEUE_DB", "SECRET_KEY")
    }
    env.update(SMARTSPEC_DATA_DIR=str(data_dir), LOG_LEVEL="WARNING")
    if connection.vendor != "postgresql":
        yield env
        return
    import psycopg

    name = f"smartspec_restore_test_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(_database_url("default"))
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {**env, "DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}"))}
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(data_dir: Path) -> None:
    call_command("seed_demo", stdout=io.StringIO())
    project = Project.objects.get(slug="demo")
    admin = User.objects.get(username="demo-admin")
    run = drain(
        start(
            project,
            template(
                name="ops-backup",
                steps=[
                    {"id": "hello", "uses": "shell", "with": {"command": "echo hello from the backup test"}},
                    {"id": "after", "uses": "noop", "needs": ["hello"]},
                ],
            ),
            admin,
        )
    )
    assert run.status == "succeeded" and Event.objects.filter(run=run, type="step.log").exists()
    pending_gate(project, admin)
    token_create(user=admin, name="ci", channel="cli")
    audit_record(
        action="tests.ops.backup",
        channel="cli",
        actor=admin,
        team=Team.objects.get(slug="demo"),
        data={"why": "round trip"},
    )
    (data_dir / "workspaces" / "demo" / "notes.md").write_text("kept in the archive\n")
    (data_dir / "workspaces" / "demo" / "notes-link.md").symlink_to("notes.md")


def test_a_backup_restores_into_an_empty_database_exactly(data_dir, empty_target, tmp_path):
    seed(data_dir)
    archive = tmp_path / "backup.tar.gz"
    call_command("backup", str(archive), stdout=io.StringIO())
    assert archive.stat().st_mode & 0o777 == 0o600
    before = dump(subprocess_env())

    restored = manage(empty_target, "restore", str(archive))

    assert restored.returncode == 0, restored.stderr
    assert "matching the manifest" in restored.stdout
    after = dump(empty_target)
    new_dir = Path(empty_target["SMARTSPEC_DATA_DIR"]).resolve()
    for row in before["workflows_project"]:  # projects follow their workspace to the new place
        row["workspace"] = row["workspace"].replace(str(data_dir.resolve()), str(new_dir))
    assert set(after) == set(before)
    assert {
        "django_q_ormq",
        "django_q_task",
        "django_q_schedule",
        "accounts_auditentry",
        "workflows_event",
        "workflows_approvalgate",
    } <= set(after)
    for table in sorted(before):
        assert after[table] == before[table], f"{table} differs after the round trip"
    assert len(before["workflows_approvalgate"]) == 1 and before["auth_user"]
    workspace = new_dir / "workspaces" / "demo"
    assert (workspace / "notes.md").read_text() == "kept in the archive\n"
    assert (workspace / "notes-link.md").is_symlink()
    assert (workspace / "specs").is_dir()

    again = manage(empty_target, "restore", str(archive))
    assert again.returncode == 2
    assert "not empty" in again.stderr and "--force" in again.stderr
    assert "Traceback" not in again.stderr


def test_a_missing_or_corrupt_archive_is_a_clear_error(tmp_path, data_dir):
    with pytest.raises(CommandError, match="No backup archive at"):
        call_command("restore", str(tmp_path / "missing.tar.gz"))
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"\x1f\x8b\x08\x00this is not gzip at all" * 10)
    env = {**subprocess_env(), "LOG_LEVEL": "WARNING"}
    done = manage(env, "restore", str(garbage))
    assert done.returncode == 1
    assert "is not a readable backup archive" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_truncated_archive_changes_nothing(tmp_path, data_dir):
    archive = tmp_path / "whole.tar.gz"
    call_command("backup", str(archive), stdout=io.StringIO())
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(CommandError, match="not a readable backup archive"):
        call_command("restore", str(cut), "--force")
