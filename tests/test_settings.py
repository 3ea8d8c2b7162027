from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import AuditEntry
from tests.processes import ROOT, subprocess_env

WRITER = """
import django, os, sys
django.setup()
from accounts.services import audit_record
for i in range(int(sys.argv[1])):
    audit_record(action="tests.concurrent.write", channel="system", data={"i": i, "pid": os.getpid()})
"""


def _settings_with(**env: str) -> subprocess.CompletedProcess[str]:
    return _django_run("from django.conf import settings; print(settings.DEBUG)", **env)


def _django_run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `code` after django.setup() in a new process with these environment variables."""
    code = "import django; django.setup()\n" + code
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "smartspec.settings", **env},
    )


def test_a_bad_boolean_fails_loudly():
    result = _settings_with(DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_a_bad_database_url_fails_loudly():
    result = _settings_with(DATABASE_URL="nosuchdb://x")
    assert result.returncode != 0
    assert "is not a database URL" in result.stderr


@pytest.mark.django_db
def test_the_database_is_configured_for_several_processes():
    if connection.vendor == "postgresql":
        assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
        assert settings.QUEUE_DATABASE == "default"
        return
    assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert settings.QUEUE_DATABASE == "queue"
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 10_000


@pytest.mark.django_db(transaction=True)
def test_several_processes_write_at_once_without_locking_errors():
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, "150"],
            cwd=ROOT,
            env={**subprocess_env(), "DJANGO_SETTINGS_MODULE": "smartspec.settings"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for _ in range(150):
        AuditEntry.objects.create(action="tests.concurrent.write", channel="web")
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        assert "locked" not in err
    assert AuditEntry.objects.filter(action="tests.concurrent.write").count() == 750


POSTGRES = "postgres://root@127.0.0.1:5432/postgres"  # PostgreSQL runs on every machine of this project
TWO_REQUESTS = """
from django.core import signals
from django.db import connection
for _ in range(2):
    signals.request_started.send(sender=None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    signals.request_finished.send(sender=None)
print("kept" if connection.connection is not None else "closed")
"""


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize(("persistent", "expected"), [("1", "kept"), ("0", "closed")])
def test_db_persistent_keeps_the_threads_connection_for_the_next_request(
    tmp_path, database, persistent, expected
):
    url = POSTGRES if database == "postgresql" else f"sqlite:///{tmp_path / 'db.sqlite3'}"
    result = _django_run(TWO_REQUESTS, DATABASE_URL=url, DB_PERSISTENT=persistent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [expected]


PREPARED = """
from django.db import connection
with connection.cursor() as cursor:
    for _ in range(6):
        cursor.execute("SELECT relname FROM pg_class WHERE oid = %s", [1259])
    cursor.execute("SELECT statement FROM pg_prepared_statements")
    print(any("pg_class" in statement for (statement,) in cursor.fetchall()))
"""


def test_postgresql_prepares_the_statements_a_connection_runs_again_and_again():
    result = _django_run(PREPARED, DATABASE_URL=POSTGRES)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"]


def test_the_cross_setting_checks_pass_by_default_and_refuse_what_does_not_fit():
    from smartspec.checks import rate_limits_are_shared, the_engine_timings_fit

    assert rate_limits_are_shared() == [] and the_engine_timings_fit() == []
    # Without Redis the counters are in a file cache every web process on the machine shares.
    assert settings.CACHES["ratelimit"]["BACKEND"].endswith(("FileBasedCache", "RedisCache"))
    done = _django_run(
        "from django.core.management import call_command; call_command('check')",
        WEB_PROCESSES="3",
        STEP_LEASE_SECONDS="2",
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr.split("SystemCheckError")[-1]
    assert "smartspec.E002" in done.stderr and "STEP_LEASE_SECONDS=2" in done.stderr


def test_per_process_rate_limit_counters_are_refused_with_several_web_processes(settings):
    from smartspec.checks import rate_limits_are_shared

    settings.WEB_PROCESSES = 3
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    found = rate_limits_are_shared()
    assert [e.id for e in found] == ["smartspec.E001"] and "3 times looser" in found[0].msg


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STEP_RETRY_BACKOFF_SECONDS": "soon"}, "STEP_RETRY_BACKOFF_SECONDS='soon' is not a number."),
        ({"SUPERVISOR_INTERVAL_SECONDS": "inf"}, "must be a finite number, 0 or more"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud' is not one of: DEBUG, INFO, WARNING, ERROR, CRITICAL."),
    ],
)
def test_numbers_and_choices_fail_loudly(env, message):
    result = _settings_with(**env)
    assert result.returncode == 1 and message in result.stderr
