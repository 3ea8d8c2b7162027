from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.models import Membership, Role, Team
from workflows.engine import git_runs
from workflows.models import Project
from workflows.workspace_policy import default_workspace_dir

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
DEMO_WORKSPACE = DEMO_DIR / "workspace"
# The demo agent stands in for an AI coding CLI (see workflows/demo/demo_agent.py).
DEMO_AGENT_COMMAND = (
    f"python {DEMO_DIR / 'demo_agent.py'} --workflow {{workflow}} --spec-dir {{spec_dir}} "
    "--workspace {workspace}"
)
DEMO_TEST_COMMAND = "python -m pytest -q -p no:cacheprovider --junitxml=${{ report_dir }}/junit.xml"
DEMO_USERS = {
    "demo-admin": Role.ADMIN,
    "demo-approver": Role.APPROVER,
    "demo-member": Role.MEMBER,
    "demo-viewer": Role.VIEWER,
}


class Command(BaseCommand):
    help = (
        "Create the demo team, users and project (idempotent). Passwords come from "
        "DEMO_PASSWORD (default smartspec-demo)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset-workspace",
            action="store_true",
            help="Copy the sample specs afresh, discarding changes made to the demo workspace.",
        )
        parser.add_argument(
            "--no-git",
            action="store_true",
            help="Leave the demo workspace without git: runs then write straight into it.",
        )

    def handle(self, *args: Any, reset_workspace: bool, no_git: bool, **options: Any) -> None:
        workspace = default_workspace_dir("demo")
        if reset_workspace and workspace.exists():
            shutil.rmtree(workspace)
        if not workspace.exists():
            shutil.copytree(DEMO_WORKSPACE, workspace)
            if not no_git:
                self._git_init(workspace)
        with transaction.atomic():
            team, _ = Team.objects.get_or_create(slug="demo", defaults={"name": "Demo team"})
            for username, role in DEMO_USERS.items():
                self._user(team, username, role)
            Project.objects.update_or_create(
                slug="demo",
                defaults={
                    "team": team,
                    "name": "Demo bookshop",
                    "workspace": str(workspace.resolve()),
                    "shell_allowlist": ["python", "pytest", "echo", "ls", "cat", "sleep"],
                    "agent_command": f"{DEMO_AGENT_COMMAND} --pause {settings.DEMO_AGENT_PAUSE:g}",
                    "test_command": DEMO_TEST_COMMAND,
                    # The sample tests measure no coverage; every other default applies.
                    "quality_thresholds": {"min_coverage": None},
                },
            )
        self.stdout.write(
            f"Demo data ready: team 'demo', project 'demo' ({workspace}); users "
            f"{', '.join(DEMO_USERS)} with the password from DEMO_PASSWORD."
        )

    def _git_init(self, workspace: Path) -> None:
        """Make the fresh demo workspace a git repository with one commit, so each run works
        on its own branch and its page shows the changes (nothing when git is missing)."""
        if shutil.which("git") is None:
            self.stdout.write("git is not installed: the demo workspace is no git repository.")
            return
        (workspace / ".gitignore").write_text("__pycache__/\n*.pyc\n.pytest_cache/\n")
        git_runs.git(["init", "--quiet", "--initial-branch=main"], cwd=workspace)
        git_runs.git(["add", "--all"], cwd=workspace)
        message = "Demo bookshop: the sample specs"
        git_runs.git(["commit", "--quiet", "--no-verify", "-m", message], cwd=workspace)

    def _user(self, team: Team, username: str, role: Role) -> None:
        User = get_user_model()
        user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
        is_admin = role == Role.ADMIN
        user.is_staff = user.is_superuser = is_admin
        user.is_active = True
        user.set_password(settings.DEMO_PASSWORD)
        user.save()
        Membership.objects.update_or_create(user=user, team=team, defaults={"role": role})
