"""A git project whose one spec has two `[P]` tasks, its agent the stand-in script
(tests/fixtures/scripts/task_agent.py): the parallel tests and the review of parallel
batches start from it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.git_repos import make_repo
from tests.workflows.engine.conftest import drain
from workflows.models import Project, Run
from workflows.services.runs import run_start
from workflows.services.template_lookups import template_version_for

AGENT = Path(__file__).resolve().parents[2] / "fixtures" / "scripts" / "task_agent.py"
SPEC = "spec-feature-010-parallel"
SPEC_DIR = f"specs/{SPEC}"


def tasks_md(first: tuple[str, str], second: tuple[str, str]) -> str:
    return (
        f"# Tasks: {SPEC}\n\n## Tasks\n\n### Phase 1: Modules\n\n"
        f'- [ ] TSK-PAR-001 [P] First module\n  evidence: code path={first[0]} contains="{first[1]}"\n\n'
        f'- [ ] TSK-PAR-002 [P] Second module\n  evidence: code path={second[0]} contains="{second[1]}"\n'
    )


def tasks_after_a_setup_task() -> str:
    """A setup task in a phase of its own, then the two [P] modules."""
    return tasks_md(("src/alpha.py", "ALPHA = 1"), ("src/beta.py", "BETA = 2")).replace(
        "### Phase 1: Modules\n\n",
        '### Phase 0: Setup\n\n- [ ] TSK-SET-001 Package\n  evidence: code path=src/__init__.py contains="# pkg"\n\n'
        "### Phase 1: Modules\n\n",
    )


def git_project(
    team_users: Any, data_dir: Path, tasks: str, *, wait_for: int = 0, git: bool = True
) -> tuple[Project, Path, str, Path]:
    """A git workspace (or a plain one) with one spec; the project's agent is the stand-in
    script."""
    repo = data_dir / "workspaces" / "parallel"
    spec = repo / SPEC_DIR
    spec.mkdir(parents=True)
    (spec / "spec.md").write_text(f"# {SPEC}\n\n## Goal\nTwo modules.\n")
    (spec / "plan.md").write_text("1. Write both modules.\n")
    (spec / "tasks.md").write_text(tasks)
    (repo / "README.md").write_text("parallel\n")
    base = make_repo(repo) if git else ""
    notes = data_dir / "agent-notes"
    command = f"{sys.executable} {AGENT} {{spec_dir}} {notes}" + (f" {wait_for}" if wait_for else "")
    project = Project.objects.create(
        team=team_users.team,
        slug="parallel",
        name="Parallel",
        workspace=str(repo),
        agent_command=command,
    )
    return project, repo, base, notes


def autopilot_turn(project: Project, *, started_by: Any = None, **params: Any) -> Run:
    """One turn of the built-in autopilot on the spec, run to where it stops."""
    return drain(
        run_start(
            project=project,
            version=template_version_for(project, "autopilot"),
            spec_id=SPEC,
            params={"max_iterations": 1, **params},
            started_by=started_by,
            channel="web",
        )
    )
