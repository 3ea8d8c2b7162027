from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from accounts.models import Membership, Team
from workflows.engine import git_runs
from workflows.models import Project

pytestmark = pytest.mark.django_db


def test_it_seeds_the_demo_idempotently(data_dir, settings):
    settings.DEMO_PASSWORD = "demo-pass-123"
    call_command("seed_demo")
    call_command("seed_demo")
    team = Team.objects.get(slug="demo")
    roles = dict(Membership.objects.filter(team=team).values_list("user__username", "role"))
    assert roles == {
        "demo-admin": "admin",
        "demo-approver": "approver",
        "demo-member": "member",
        "demo-viewer": "viewer",
    }
    for username in roles:
        assert authenticate(username=username, password="demo-pass-123") is not None
    project = Project.objects.get(slug="demo")
    assert project.team == team
    workspace = Path(project.workspace)
    assert workspace.is_relative_to(data_dir)
    assert (workspace / "specs" / "core" / "spec-core-001-authentication" / "tasks.md").exists()
    assert Project.objects.count() == 1 and Team.objects.count() == 1


def test_it_keeps_changes_to_the_demo_workspace_unless_asked(data_dir):
    call_command("seed_demo")
    readme = Path(Project.objects.get(slug="demo").workspace) / "README.md"
    readme.write_text("changed")
    call_command("seed_demo")
    assert readme.read_text() == "changed"
    call_command("seed_demo", reset_workspace=True)
    assert readme.read_text() != "changed"


def test_the_demo_workspace_is_a_git_repository_with_one_clean_commit(data_dir):
    call_command("seed_demo")
    workspace = Path(Project.objects.get(slug="demo").workspace)
    assert git_runs.git_mode(workspace) == "branch"
    assert git_runs.git(["symbolic-ref", "--short", "HEAD"], cwd=workspace).strip() == "main"
    assert git_runs.git(["rev-list", "--count", "HEAD"], cwd=workspace).strip() == "1"
    assert git_runs.git(["status", "--porcelain"], cwd=workspace) == ""
    tracked = git_runs.git(["ls-files"], cwd=workspace).splitlines()
    assert "specs/core/spec-core-001-authentication/tasks.md" in tracked
    # Seeding again keeps the repository and its history.
    call_command("seed_demo")
    assert git_runs.git(["rev-list", "--count", "HEAD"], cwd=workspace).strip() == "1"


def test_no_git_leaves_the_demo_workspace_without_a_repository(data_dir):
    call_command("seed_demo", no_git=True)
    workspace = Path(Project.objects.get(slug="demo").workspace)
    assert git_runs.git_mode(workspace) == "none"
    assert not (workspace / ".git").exists()


def test_the_demo_agent_pauses_as_the_setting_says(data_dir, settings):
    settings.DEMO_AGENT_PAUSE = 0.25
    call_command("seed_demo")
    assert Project.objects.get(slug="demo").agent_command.endswith(" --pause 0.25")
