"""Parallel tasks: `[P]` tasks of a git project run at once, each in its own worktree, and
the join merges their branches into the run's branch (a conflict fails that branch).

Real git, real files, a stand-in agent process (tests/fixtures/scripts/task_agent.py) and,
for concurrency, a real worker cluster.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.git_repos import sh
from tests.processes import start_cluster, wait_until_finished
from tests.workflows.engine.conftest import drain, start, template
from tests.workflows.engine.parallel_project import (
    SPEC,
    autopilot_turn,
    git_project,
    tasks_after_a_setup_task,
    tasks_md,
)
from workflows.engine import git_branches, git_runs
from workflows.engine.worker import execute_step
from workflows.models import Step
from workflows.services.runs import run_cancel, run_start
from workflows.services.template_lookups import template_version_for
from workflows.templatetags.workflow_tags import step_summary

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

# One agent step per parallel task, each on its own branch.
FAN_OUT = {
    "id": "implement",
    "uses": "agent",
    "with": {"workflow": "implement_tasks"},
    "for_each": "parallel_tasks",
}


def test_two_parallel_tasks_run_at_once_in_two_worktrees_and_merge(team_users, data_dir, settings):
    tasks = tasks_md(("src/alpha.py", "ALPHA = 1"), ("src/beta.py", "BETA = 2"))
    project, repo, base, notes = git_project(team_users, data_dir, tasks, wait_for=2)
    version = template_version_for(project, "autopilot")
    cluster = start_cluster(STEP_SANDBOX="none", Q_WORKERS="2")
    try:
        run = run_start(
            project=project,
            version=version,
            spec_id=SPEC,
            params={"max_iterations": 1},
            started_by=None,
            channel="web",
        )
        run = wait_until_finished(run, timeout=240)
    finally:
        cluster.stop()
    steps = {s.key: s for s in run.steps.all()}
    group = steps["implement-tasks-1"]
    assert (group.for_each, group.status) == ("parallel_tasks", "succeeded"), run.outcome_reason
    first, second = steps["implement-tasks-1[0]"], steps["implement-tasks-1[1]"]
    assert (first.item, second.item) == ("TSK-PAR-001", "TSK-PAR-002")
    assert (first.status, second.status) == ("succeeded", "succeeded"), (first.error, second.error)
    # Both agents waited for each other, so they ran at once, each in a worktree of its own.
    cwd = {t: (notes / f"{t}.cwd").read_text() for t in ("TSK-PAR-001", "TSK-PAR-002")}
    assert cwd["TSK-PAR-001"] != cwd["TSK-PAR-002"]
    for task, step in (("TSK-PAR-001", first), ("TSK-PAR-002", second)):
        assert Path(cwd[task]) == git_branches.branch_worktree_dir(run.pk, step.key)
    # Each committed on its own branch, made from the run's branch.
    branch = run.git_branch
    assert first.output["git"]["branch"] == f"{branch}--0-TSK-PAR-001"
    assert second.output["git"]["branch"] == f"{branch}--1-TSK-PAR-002"
    for step in (first, second):
        assert sh("rev-parse", step.output["git"]["branch"], cwd=repo).strip() == step.output["git"]["commit"]
    # The join merged both into the run's branch, in item order, one merge commit each.
    assert sh("show", f"{branch}:src/alpha.py", cwd=repo) == "ALPHA = 1\n"
    assert sh("show", f"{branch}:src/beta.py", cwd=repo) == "BETA = 2\n"
    merges = sh("log", "--merges", "--reverse", "--format=%s", f"{base}..{branch}", cwd=repo).splitlines()
    assert merges == [
        f"Merge implement-tasks-1[0] · TSK-PAR-001 into run {run.pk}",
        f"Merge implement-tasks-1[1] · TSK-PAR-002 into run {run.pk}",
    ]
    # The base branch and the workspace stay as they were.
    assert sh("rev-parse", "main", cwd=repo).strip() == base
    assert not (repo / "src").exists()
    # The branch worktrees went after the join (the run's with the run); the branches stay.
    assert not git_branches.branch_worktree_dir(run.pk, first.key).exists()
    assert not git_branches.branch_worktree_dir(run.pk, second.key).exists()
    assert not git_runs.run_worktree_dir(run.pk).exists()
    assert f"{branch}--0-TSK-PAR-001" in sh("branch", "--list", f"{branch}--*", cwd=repo)
    # Verification after the join (the next status step) finds both tasks done.
    progress = steps["status-2"].output["progress"]
    assert progress["open_tasks"] == []


def test_a_conflicting_pair_fails_one_branch_naming_the_file(team_users, data_dir, settings):
    settings.STEP_SANDBOX = "none"
    tasks = tasks_md(("src/shared.py", "FIRST = 1"), ("src/shared.py", "SECOND = 2"))
    project, repo, base, _ = git_project(team_users, data_dir, tasks)
    run = start(
        project,
        template(
            name="parallel-conflict",
            steps=[
                {**FAN_OUT, "join": 1},
                {"id": "verify", "uses": "verify_tasks", "needs": ["implement"]},
            ],
        ),
        spec_id=SPEC,
    )
    run = drain(run)
    steps = {s.key: s for s in run.steps.all()}
    first, second = steps["implement[0]"], steps["implement[1]"]
    assert first.status == "succeeded", first.error
    assert second.status == "failed"
    assert "src/shared.py" in second.error and "conflict" in second.error
    assert second.output["merge_conflicts"] == ["src/shared.py"]
    assert step_summary(second) == "merge conflict in src/shared.py"
    failed = run.events.get(type="step.failed", data__key="implement[1]")
    assert "src/shared.py" in failed.data["error"]
    # The merge was aborted: the run's branch holds the first branch's work only.
    assert sh("show", f"{run.git_branch}:src/shared.py", cwd=repo) == "FIRST = 1\n"
    assert sh("rev-parse", second.output["git"]["branch"], cwd=repo).strip() == second.output["git"]["commit"]
    # The run goes on: verification after the join decides which task is done.
    assert steps["implement"].status == "succeeded"
    assert steps["verify"].output["statuses"] == {"TSK-PAR-001": "verified", "TSK-PAR-002": "not_verified"}
    assert run.status == "succeeded"
    assert sh("rev-parse", "main", cwd=repo).strip() == base
    # Merging again (a crash before the join committed) adds nothing; a conflict stays one.
    worktree = git_runs.run_worktree(run)
    assert worktree is not None
    head = sh("rev-parse", run.git_branch, cwd=repo).strip()
    assert git_branches.merge_branch(run, worktree, first).commit == head
    assert git_branches.merge_branch(run, worktree, second).conflicts == ["src/shared.py"]
    assert sh("rev-parse", run.git_branch, cwd=repo).strip() == head
    assert sh("status", "--porcelain", cwd=worktree) == ""


def test_without_git_the_branches_share_the_workspace(team_users, data_dir, settings):
    settings.STEP_SANDBOX = "none"
    tasks = tasks_md(("src/alpha.py", "ALPHA = 1"), ("src/beta.py", "BETA = 2"))
    project, repo, _, notes = git_project(team_users, data_dir, tasks, git=False)
    run = drain(
        start(
            project,
            template(
                name="parallel-plain",
                steps=[FAN_OUT],
            ),
            spec_id=SPEC,
        )
    )
    assert run.status == "succeeded", run.error
    assert (repo / "src/alpha.py").read_text() == "ALPHA = 1\n"
    assert (repo / "src/beta.py").read_text() == "BETA = 2\n"
    assert {(notes / f"{t}.cwd").read_text() for t in ("TSK-PAR-001", "TSK-PAR-002")} == {str(repo)}
    assert not Step.objects.filter(run=run, config__has_key=git_branches.FORK).exists()


@pytest.mark.parametrize("marked", ["each task [P]", "the phase parallel: true"])
def test_the_autopilot_takes_the_batches_one_after_another(team_users, data_dir, settings, marked):
    """A setup task first (one agent, told to do only that), then the two parallel tasks at
    once, in one turn: the second step fans out over what the first left open."""
    settings.STEP_SANDBOX = "none"
    tasks = tasks_after_a_setup_task()
    if marked == "the phase parallel: true":
        tasks = tasks.replace(" [P]", "").replace(
            "### Phase 1: Modules\n\n", "### Phase 1: Modules\nparallel: true\n\n"
        )
    project, repo, base, _ = git_project(team_users, data_dir, tasks)
    run = autopilot_turn(project)
    groups = run.steps.filter(kind="agent", parent__isnull=True).order_by("position")
    assert [(g.key, g.needs) for g in groups] == [
        ("implement-tasks-1", ["status-1"]),
        ("implement-tasks-b2-1", ["implement-tasks-1"]),
    ]
    items = dict(run.steps.filter(parent__isnull=False).values_list("key", "item"))
    assert items == {
        "implement-tasks-1[0]": ["TSK-SET-001"],
        "implement-tasks-b2-1[0]": "TSK-PAR-001",
        "implement-tasks-b2-1[1]": "TSK-PAR-002",
    }
    setup = run.steps.get(key="implement-tasks-1[0]")
    prompt = sh("show", f"{run.git_branch}:{setup.output['prompt_file']}", cwd=repo)
    assert "## Your tasks\nImplement only TSK-SET-001. Other agents" in prompt
    # The [P] branches started from the run's branch after the setup was merged.
    first = run.steps.get(key="implement-tasks-b2-1[0]")
    assert sh("show", f"{first.output['git']['parent']}:src/__init__.py", cwd=repo) == "# pkg\n"
    for path, text in (
        ("src/__init__.py", "# pkg"),
        ("src/alpha.py", "ALPHA = 1"),
        ("src/beta.py", "BETA = 2"),
    ):
        assert sh("show", f"{run.git_branch}:{path}", cwd=repo) == text + "\n"
    assert run.steps.get(key="status-2").output["progress"]["open_tasks"] == []
    assert sh("rev-parse", "main", cwd=repo).strip() == base


def test_the_autopilot_keeps_one_agent_step_without_parallel_tasks(team_users, data_dir, settings):
    settings.STEP_SANDBOX = "none"
    tasks = tasks_md(("src/alpha.py", "ALPHA = 1"), ("src/beta.py", "BETA = 2")).replace(" [P]", "")
    project, _, _, _ = git_project(team_users, data_dir, tasks)
    run = autopilot_turn(project)
    implement = run.steps.get(key="implement-tasks-1")
    assert implement.for_each is None and not implement.branches.exists()
    # The stand-in agent needs a task named in its prompt: one step for all tasks names none.
    assert implement.status == "failed"


def test_a_cancelled_run_removes_the_branch_worktrees_it_left(team_users, data_dir, settings):
    settings.STEP_SANDBOX = "none"
    tasks = tasks_md(("src/alpha.py", "ALPHA = 1"), ("src/beta.py", "BETA = 2"))
    project, repo, _, _ = git_project(team_users, data_dir, tasks)
    run = start(
        project,
        template(
            name="parallel-cancel",
            steps=[FAN_OUT],
        ),
        spec_id=SPEC,
    )
    first = run.steps.get(key="implement[0]")
    execute_step(first.pk)  # one branch ran; the join waits for the other
    left = git_branches.branch_worktree_dir(run.pk, first.key)
    assert (left / "src/alpha.py").read_text() == "ALPHA = 1\n"
    assert run.steps.get(key="implement").status == "running"
    run_cancel(run=run, by=None, channel="api")
    assert not left.exists()
    assert str(left) not in sh("worktree", "list", cwd=repo)
    run.refresh_from_db()
    assert f"{run.git_branch}--0-TSK-PAR-001" in sh("branch", "--list", f"{run.git_branch}--*", cwd=repo)
