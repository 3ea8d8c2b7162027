"""Steps of a git run that change files take turns in the run's worktree, so each commit
holds its own step's work (workflows.engine.worktree_turns); steps that change no file
neither wait nor commit, and without git nothing waits.

Real git and files; the scheduling is checked in this process, where nothing is timed, and
a real worker cluster shows the turns on an agent fan-out end to end.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from accounts.models import Profile
from tests.git_repos import sh
from tests.processes import start_cluster, wait_until_finished
from tests.workflows.engine.conftest import drain, start, template
from tests.workflows.engine.parallel_project import git_project, tasks_md
from workflows.engine import git_runs
from workflows.engine.worker import execute_step
from workflows.models import Run, Step

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SPEC = "spec-feature-010-parallel"


def write(name: str) -> dict[str, object]:
    return {
        "id": name,
        "uses": "shell",
        "with": {"command": f"python -c \"open('{name}.txt','w').write('{name}')\""},
    }


SIBLINGS = template(
    name="siblings",
    max_parallel=4,
    steps=[write("alpha"), write("beta"), {"id": "look", "uses": "status"}],
)


def project_with_python(team_users, data_dir, *, git: bool):
    tasks = tasks_md(("src/alpha.py", "ALPHA = 1"), ("src/beta.py", "BETA = 2"))
    project, repo, base, notes = git_project(team_users, data_dir, tasks, git=git)
    project.shell_allowlist = ["python"]
    project.save(update_fields=["shell_allowlist"])
    return project, repo, base


def waiting_rows(run: Run, user: Any, language: str = "en") -> dict[str, str]:
    """Step key → what its row on the run page says about why it waits, for a reader of
    that language."""
    Profile.objects.update_or_create(user=user, defaults={"language": language})
    client = Client()
    client.force_login(user)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    found = {}
    for key, row in re.findall(r'<tr id="step-[^"]*" data-step="([^"]+)"(.*?)</tr>', page, flags=re.DOTALL):
        waits = re.search(r'data-testid="step-waits"[^>]*>([^<]*)<', row)
        if waits:
            found[key] = html.unescape(waits.group(1))
    return found


def run_json(run: Run, user: Any) -> dict[str, Any]:
    client = Client()
    client.force_login(user)
    return client.get(f"/api/v1/runs/{run.pk}").json()


def test_a_ready_step_that_finds_no_slot_says_so(team_users, data_dir, settings):
    settings.STEP_SANDBOX = "none"
    project, _, _ = project_with_python(team_users, data_dir, git=False)
    one_at_a_time = template(name="one-at-a-time", max_parallel=1, steps=[write("alpha"), write("beta")])
    run = start(project, one_at_a_time, spec_id=SPEC)
    assert waiting_rows(run, team_users.member) == {
        "beta": "waits for a free slot: the run runs at most 1 at once"
    }
    beta = next(s for s in run_json(run, team_users.member)["steps"] if s["key"] == "beta")
    assert (beta["waiting_for"], beta["waiting_behind"]) == ("slot", "")
    assert drain(run).status == "succeeded"
    assert waiting_rows(run, team_users.member) == {}


def files_of(commit: str, repo: Path) -> list[str]:
    """The files a commit changed, but for the reports the app writes (the agent's prompt)."""
    changed = sh("show", "--name-only", "--format=", commit, cwd=repo).split()
    return [name for name in changed if not name.startswith(".spec/reports/")]


def test_two_steps_that_change_files_take_turns_in_a_git_runs_worktree(team_users, data_dir, settings):
    settings.STEP_SANDBOX = "none"
    project, repo, base = project_with_python(team_users, data_dir, git=True)
    run = start(project, SIBLINGS, spec_id=SPEC)
    steps = {s.key: s for s in run.steps.all()}
    # Three slots are free, but one worktree: beta waits for alpha; the status step does not.
    assert (steps["alpha"].status, steps["look"].status) == ("queued", "queued")
    assert (steps["beta"].status, steps["beta"].ready) == ("pending", True)
    # The run page and the API say why beta waits; nothing else waits.
    assert waiting_rows(run, team_users.member) == {
        "beta": "waits for its turn in the run's git worktree, which alpha has"
    }
    with_thai = waiting_rows(run, team_users.member, language="th")
    assert with_thai == {"beta": "รอคิวใช้เวิร์กทรี git ของการรันนี้ ซึ่ง alpha ใช้อยู่"}
    api = {
        s["key"]: (s["waiting_for"], s["waiting_behind"]) for s in run_json(run, team_users.member)["steps"]
    }
    assert api == {"alpha": ("", ""), "beta": ("worktree", "alpha"), "look": ("", "")}
    execute_step(steps["look"].pk)
    assert Step.objects.get(pk=steps["beta"].pk).status == "pending"
    execute_step(steps["alpha"].pk)  # alpha finishing gives beta its turn: this worker takes it
    assert Step.objects.get(pk=steps["beta"].pk).status == "succeeded"
    run = drain(run)
    assert run.status == "succeeded", run.error
    steps = {s.key: s for s in run.steps.all()}
    # One commit per step, each holding that step's file only.
    assert files_of(steps["alpha"].output["git"]["commit"], repo) == ["alpha.txt"]
    assert files_of(steps["beta"].output["git"]["commit"], repo) == ["beta.txt"]
    assert "git" not in steps["look"].output
    assert sh("rev-parse", "main", cwd=repo).strip() == base


def test_without_git_the_steps_run_at_once(team_users, data_dir, settings):
    settings.STEP_SANDBOX = "none"
    project, repo, _ = project_with_python(team_users, data_dir, git=False)
    run = start(project, SIBLINGS, spec_id=SPEC)
    assert dict(run.steps.values_list("key", "status")) == {
        "alpha": "queued",
        "beta": "queued",
        "look": "queued",
    }
    assert waiting_rows(run, team_users.member) == {}
    run = drain(run)
    assert run.status == "succeeded", run.error
    assert (repo / "alpha.txt").read_text() == "alpha" and (repo / "beta.txt").read_text() == "beta"


def test_a_step_that_changes_no_file_commits_nothing(team_users, data_dir, settings):
    settings.STEP_SANDBOX = "none"
    project, repo, base = project_with_python(team_users, data_dir, git=True)
    # The approval keeps the run (and its worktree) open after the status step.
    gate = {
        "id": "gate",
        "uses": "approval",
        "needs": ["look"],
        "with": {"title": "Go on?", "approvers": ["role:approver"]},
    }
    text = template(name="look", steps=[{"id": "look", "uses": "status"}, gate])
    run = start(project, text, spec_id=SPEC)
    worktree = git_runs.run_worktree(run)
    assert worktree is not None
    (worktree / "draft.txt").write_text("another step's work, not finished")
    execute_step(run.steps.get(key="look").pk)
    look, gate = run.steps.get(key="look"), run.steps.get(key="gate")
    assert (look.status, gate.status) == ("succeeded", "waiting")
    assert "git" not in look.output and "git" not in gate.output
    assert sh("rev-parse", run.git_branch, cwd=repo).strip() == base
    assert sh("status", "--porcelain", cwd=worktree).split() == ["??", "draft.txt"]


def test_an_agent_fan_out_of_a_git_run_takes_turns_on_a_worker_cluster(team_users, data_dir, settings):
    tasks = tasks_md(("src/alpha.py", "ALPHA = 1"), ("src/beta.py", "BETA = 2"))
    project, repo, base, notes = git_project(team_users, data_dir, tasks)
    text = template(
        name="each-task",
        max_parallel=4,
        steps=[
            {"id": "implement", "uses": "agent", "with": {"workflow": "implement_tasks"}, "for_each": "tasks"}
        ],
    )
    cluster = start_cluster(STEP_SANDBOX="none", Q_WORKERS="2")
    try:
        run = wait_until_finished(start(project, text, spec_id=SPEC), timeout=240)
    finally:
        cluster.stop()
    assert run.status == "succeeded", run.error
    first, second = run.steps.get(key="implement[0]"), run.steps.get(key="implement[1]")
    # Both worked in the run's worktree, one after the other, and each commit is its own.
    cwd = {(notes / f"{t}.cwd").read_text() for t in ("TSK-PAR-001", "TSK-PAR-002")}
    assert cwd == {str(git_runs.run_worktree_dir(run.pk))}
    assert second.started_at >= first.finished_at
    assert files_of(first.output["git"]["commit"], repo) == ["src/alpha.py"]
    assert files_of(second.output["git"]["commit"], repo) == ["src/beta.py"]
    assert second.output["git"]["parent"] == first.output["git"]["commit"]
    assert sh("rev-parse", "main", cwd=repo).strip() == base
