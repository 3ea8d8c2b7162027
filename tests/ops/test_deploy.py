"""The documented production environment passes `check --deploy`; every setting is documented."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys

import pytest

from tests.processes import ROOT, free_port
from workflows.observability import probe

DEPLOY = ROOT / "docs" / "deploy.md"


def documented_environment() -> dict[str, str]:
    block = re.search(r"```env\n(.*?)```", DEPLOY.read_text(), re.S)
    assert block, "docs/deploy.md has no ```env block"
    pairs = (line.split("=", 1) for line in block.group(1).splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def test_the_documented_environment_passes_check_deploy(tmp_path):
    # Only the documented variables: nothing the test run itself set (DATABASE_URL, or
    # DJANGO_ALLOW_ASYNC_UNSAFE from the browser tests) may leak in.
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(documented_environment())
    # A real key instead of the placeholder, and a data directory this test may create.
    env.update(
        SECRET_KEY=secrets.token_urlsafe(64),
        SMARTSPEC_DATA_DIR=str(tmp_path),
        WORKSPACE_ROOTS=str(tmp_path),
        DJANGO_SETTINGS_MODULE="smartspec.settings",
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_every_environment_variable_of_the_settings_is_documented():
    settings_text = (ROOT / "smartspec" / "settings.py").read_text()
    names = set(re.findall(r"env(?:str|bool|int|list)\(\s*[\"']([A-Z_]+)[\"']", settings_text))
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PASSWORD_HASHERS", "PORT"} <= names
    docs = DEPLOY.read_text()
    missing = sorted(name for name in names if f"`{name}`" not in docs)
    assert not missing, f"docs/deploy.md does not describe {missing}"


def test_the_container_probe_asks_healthz(daphne_server, monkeypatch):
    monkeypatch.setenv("PORT", str(daphne_server.port))
    assert probe.main(["web"]) == 0
    monkeypatch.setenv("PORT", str(free_port()))
    assert probe.main(["web"]) == 1
    assert probe.main(["nonsense"]) == 2


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        ("autopilot.example.com,localhost", "autopilot.example.com"),
        ("*,.example.com", "example.com"),
        ("", "localhost"),
    ],
)
def test_the_probe_sends_an_allowed_host(monkeypatch, hosts, expected):
    monkeypatch.setenv("ALLOWED_HOSTS", hosts)
    assert probe.probe_host() == expected
