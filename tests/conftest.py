"""Shared fixtures: a team with one user per role and an outsider, and real servers."""

from __future__ import annotations

import email
import email.policy
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import caches

from accounts.models import Membership, Role, Team
from tests.git_repos import bare_remote
from tests.processes import RunningProcess, free_port, start_daphne
from workflows.models import Project

FIXTURES = Path(__file__).parent / "fixtures"
PASSWORD = "correct-horse-battery"


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    isolated = config.pluginmanager.has_plugin("tests.worker_installs")
    if config.getoption("numprocesses", None) and not isolated:
        # Workers sharing one data directory and Redis database empty each other's queue.
        raise pytest.UsageError("With -n, add -p tests.worker_installs (as `make test` does).")

    # The demo agent prints without pausing for watchers: the same work, seconds sooner.
    settings.DEMO_AGENT_PAUSE = 0.0

    # Test users need no costly hashing; server processes the tests start verify these
    # hashes because tests.processes passes the same list on.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


@dataclass
class TeamUsers:
    team: Team
    admin: User
    approver: User
    member: User
    viewer: User
    outsider: User
    other_team: Team


def make_user(username: str, **extra: object) -> User:
    return User.objects.create_user(
        username=username, email=f"{username}@example.com", password=PASSWORD, **extra
    )


@pytest.fixture
def team_users(db: None) -> TeamUsers:
    team = Team.objects.create(slug="acme", name="Acme")
    other = Team.objects.create(slug="globex", name="Globex")
    users = {}
    for role in Role:
        users[role.value] = make_user(f"{role.value}-user")
        Membership.objects.create(user=users[role.value], team=team, role=role)
    outsider = make_user("outsider")
    Membership.objects.create(user=outsider, team=other, role=Role.ADMIN)
    return TeamUsers(
        team=team,
        admin=users["admin"],
        approver=users["approver"],
        member=users["member"],
        viewer=users["viewer"],
        outsider=outsider,
        other_team=other,
    )


@pytest.fixture
def data_dir(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A fresh data directory: workspaces must live inside it."""
    settings.DATA_DIR = tmp_path  # type: ignore[attr-defined]
    return tmp_path


@pytest.fixture
def workspace(data_dir: Path) -> Path:
    """A copy of the basic SmartSpec fixture workspace inside the data directory."""
    target = data_dir / "workspaces" / "acme-web"
    shutil.copytree(FIXTURES / "workspaces" / "basic", target, symlinks=True)
    return target


@pytest.fixture
def project(team_users: TeamUsers, workspace: Path) -> Project:
    return Project.objects.create(
        team=team_users.team,
        slug="acme-web",
        name="Acme web",
        workspace=str(workspace),
        shell_allowlist=["echo", "python"],
    )


@pytest.fixture
def eproject(team_users: Any, data_dir: Any) -> Any:
    """A project with an empty workspace, for engine tests that need no specs."""
    from workflows.models import Project

    workspace = data_dir / "workspaces" / "engine"
    workspace.mkdir(parents=True)
    return Project.objects.create(
        team=team_users.team,
        slug="engine",
        name="Engine",
        workspace=str(workspace),
        shell_allowlist=["echo", "python", "sleep", "false", "sh"],
    )


@pytest.fixture
def fresh_rate_counters() -> Iterator[None]:
    """Rate limits count this test's requests only."""
    caches["ratelimit"].clear()
    yield
    caches["ratelimit"].clear()


@pytest.fixture
def remote(data_dir: Path) -> Path:
    """An empty bare repository in the data directory, as a project's git remote."""
    return bare_remote(data_dir / "workspaces" / "remotes" / "shop.git")


@pytest.fixture(scope="session")
def daphne_server(django_db_setup: None, django_db_blocker: object) -> Iterator[RunningProcess]:
    """daphne serving the app on a free port, against the test database."""
    server = start_daphne()
    yield server
    server.stop()


@pytest.fixture
def smtp_server(settings: pytest.FixtureRequest) -> Iterator[list[EmailMessageRecord]]:
    """A real SMTP server on loopback; Django sends through it. Yields received messages."""
    from aiosmtpd.controller import Controller

    received: list[EmailMessageRecord] = []

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            received.append(
                EmailMessageRecord(
                    envelope.mail_from,  # type: ignore[attr-defined]
                    list(envelope.rcpt_tos),  # type: ignore[attr-defined]
                    envelope.content.decode("utf-8", "replace"),  # type: ignore[attr-defined]
                )
            )
            return "250 Message accepted for delivery"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"  # type: ignore[attr-defined]
    settings.EMAIL_HOST = "127.0.0.1"  # type: ignore[attr-defined]
    settings.EMAIL_PORT = port  # type: ignore[attr-defined]
    settings.EMAIL_USE_TLS = False  # type: ignore[attr-defined]
    yield received
    controller.stop()


@dataclass
class EmailMessageRecord:
    mail_from: str
    rcpt_tos: list[str]
    content: str

    def message(self) -> email.message.Message:
        return email.message_from_string(self.content, policy=email.policy.default)

    def text(self) -> str:
        msg = self.message()
        part = msg.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        return str(part.get_content()) if part is not None else self.content
