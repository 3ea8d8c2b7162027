"""Agent work on git: a run of a git project works on its own branch in its own worktree.

Real git, real files, the real demo agent process, steps run as a worker runs them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.git_repos import make_repo, sh
from tests.workflows.engine.conftest import drain, start, template
from workflows.engine import git_runs
from workflows.models import Project, Run
from workflows.services.runs import run_cancel, run_start
from workflows.services.template_lookups import template_version_for
from workflows.workspace_policy import WorkspaceNotAllowed, run_worktree_checked, workspace_resolve

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

AUTH = "spec-core-001-authentication"
AUTH_TASKS = "specs/core/spec-core-001-authentication/tasks.md"


@pytest.fixture
def demo(data_dir) -> Project:
    call_command("seed_demo")
    return Project.objects.get(slug="demo")


def autopilot(project: Project, spec_id: str = AUTH) -> Run:
    version = template_version_for(project, "autopilot")
    return run_start(
        project=project, version=version, spec_id=spec_id, params={}, started_by=None, channel="web"
    )


def test_an_autopilot_run_of_a_git_project_works_on_its_own_branch(demo: Project, data_dir: Path) -> None:
    repo = Path(demo.workspace)
    base = make_repo(repo)
    tasks_before = (repo / AUTH_TASKS).read_text()
    run = drain(autopilot(demo))
    assert (run.status, run.outcome) == ("stopped", "needs_manual"), run.outcome_reason
    branch = f"smartspec/run-{run.pk}-{AUTH}"
    assert (run.git_branch, run.git_base) == (branch, base)
    # The base branch and the workspace's files are untouched.
    assert sh("rev-parse", "main", cwd=repo).strip() == base
    assert sh("status", "--porcelain", cwd=repo) == ""
    assert (repo / AUTH_TASKS).read_text() == tasks_before
    # One commit per step that changed files, by the app, naming run, step and spec.
    log = sh("log", "--format=%H|%an <%ae>|%s", f"{base}..{branch}", cwd=repo).splitlines()
    committed = [s for s in run.steps.order_by("-id") if "git" in s.output]
    assert [line.split("|")[0] for line in log] == [s.output["git"]["commit"] for s in committed]
    assert committed and all(
        line.split("|")[1] == "SmartSpec Autopilot <autopilot@localhost>" for line in log
    )
    assert all(f"Run {run.pk} · step " in line and f"spec {AUTH}" in line for line in log)
    # The agent's work is on the branch: the tasks file changed there.
    assert sh("show", f"{branch}:{AUTH_TASKS}", cwd=repo) != tasks_before
    # The worktree went with the finished run; the branch stays.
    assert not git_runs.run_worktree_dir(run.pk).exists()
    assert branch in sh("branch", "--list", cwd=repo)


def test_a_leftover_folder_where_the_runs_worktree_goes_is_moved_aside(demo: Project, data_dir: Path) -> None:
    """A data directory used again with a new database: run numbers start again, and a
    folder of an old run (a worktree of another repository) sits where this run's goes."""
    make_repo(Path(demo.workspace))
    run = autopilot(demo)
    other = data_dir / "workspaces" / "old-copy"
    other.mkdir(parents=True)
    (other / "README.md").write_text("old\n")
    make_repo(other)
    leftover = git_runs.run_worktree_dir(run.pk)
    sh("worktree", "add", "--quiet", "-b", "old-run", str(leftover), cwd=other)
    (leftover / "unsaved.txt").write_text("someone's work\n")
    run = drain(run)
    assert (run.status, run.outcome) == ("stopped", "needs_manual"), run.outcome_reason
    assert all(s.status != "failed" for s in run.steps.all())
    [aside] = git_runs.worktrees_root().glob(f"stale-run-{run.pk}-*")
    assert (aside / "unsaved.txt").read_text() == "someone's work\n"  # moved, not deleted


def test_a_workspace_that_is_no_git_repository_is_written_directly(demo: Project) -> None:
    call_command("seed_demo", "--reset-workspace", "--no-git")
    repo = Path(demo.workspace)
    before = (repo / AUTH_TASKS).read_text()
    run = drain(autopilot(demo))
    assert run.outcome == "needs_manual"
    assert (run.git_branch, run.git_base) == ("", "")
    assert (repo / AUTH_TASKS).read_text() != before
    assert not any("git" in s.output for s in run.steps.all())


def test_a_run_worktree_is_allowed_only_below_the_worktrees_folder(data_dir: Path) -> None:
    inside = data_dir / "worktrees" / "run-1"
    inside.mkdir(parents=True)
    assert run_worktree_checked(inside) == inside.resolve()
    elsewhere = data_dir / "workspaces" / "x"
    elsewhere.mkdir(parents=True)
    with pytest.raises(WorkspaceNotAllowed):
        run_worktree_checked(elsewhere)
    # A project may never take a run's worktree as its workspace.
    with pytest.raises(WorkspaceNotAllowed):
        workspace_resolve(str(inside))


def test_a_run_starts_from_the_projects_base_branch(demo: Project) -> None:
    repo = Path(demo.workspace)
    make_repo(repo)
    sh("checkout", "--quiet", "-b", "develop", cwd=repo)
    (repo / "DEVELOP.md").write_text("only on develop\n")
    sh("add", "--all", cwd=repo)
    sh("commit", "--quiet", "-m", "develop work", cwd=repo)
    develop = sh("rev-parse", "HEAD", cwd=repo).strip()
    sh("checkout", "--quiet", "main", cwd=repo)
    main = sh("rev-parse", "HEAD", cwd=repo).strip()
    demo.base_branch = "develop"
    demo.save(update_fields=["base_branch"])
    run = drain(autopilot(demo))
    assert run.git_base == develop != main
    assert sh("merge-base", "--is-ancestor", develop, run.git_branch, cwd=repo) == ""
    assert sh("rev-parse", "develop", cwd=repo).strip() == develop  # the base branch did not move
    assert sh("rev-parse", "HEAD", cwd=repo).strip() == main  # nor did the workspace's checkout


def test_a_cancelled_run_loses_its_worktree_and_keeps_its_branch(demo: Project) -> None:
    make_repo(Path(demo.workspace))
    demo.shell_allowlist = ["python"]
    demo.save(update_fields=["shell_allowlist"])
    text = template(
        name="write-then-wait",
        steps=[
            {
                "id": "write",
                "uses": "shell",
                "with": {"command": "python -c \"open('N.txt','w').write('x')\""},
            },
            {
                "id": "review",
                "uses": "approval",
                "needs": ["write"],
                "with": {"approvers": ["role:approver"]},
            },
        ],
    )
    run = drain(start(demo, text))
    assert run.status == "waiting"
    assert (git_runs.run_worktree_dir(run.pk) / "N.txt").is_file()
    run = run_cancel(run=run, by=None, channel="web")
    assert run.status == "cancelled"
    assert not git_runs.run_worktree_dir(run.pk).exists()
    assert run.git_branch in sh("branch", "--list", cwd=Path(demo.workspace))


def test_a_shell_step_runs_in_the_runs_worktree_and_commits(demo: Project) -> None:
    repo = Path(demo.workspace)
    base = make_repo(repo)
    demo.shell_allowlist = ["python"]
    demo.save(update_fields=["shell_allowlist"])
    text = template(
        name="write-a-file",
        steps=[
            {
                "id": "write",
                "uses": "shell",
                "with": {"command": "python -c \"open('NOTE.txt','w').write('hi')\""},
            },
            {"id": "nothing", "uses": "shell", "needs": ["write"], "with": {"command": "python -c pass"}},
        ],
    )
    run = drain(start(demo, text))
    assert run.status == "succeeded", run.error
    write, nothing = run.steps.get(key="write"), run.steps.get(key="nothing")
    assert write.output["git"]["parent"] == base and "git" not in nothing.output
    assert sh("show", f"{write.output['git']['commit']}:NOTE.txt", cwd=repo) == "hi"
    assert not (repo / "NOTE.txt").exists()
    assert sh("log", "-1", "--format=%s", run.git_branch, cwd=repo).strip() == f"Run {run.pk} · step write"


def test_a_repository_with_no_commit_yet_is_written_directly(demo: Project, client) -> None:
    call_command("seed_demo", "--reset-workspace", "--no-git")
    repo = Path(demo.workspace)
    assert not (repo / ".git").exists()
    sh("init", "--quiet", cwd=repo)
    before = (repo / AUTH_TASKS).read_text()
    run = drain(autopilot(demo))
    assert run.outcome == "needs_manual" and run.git_branch == ""
    assert (repo / AUTH_TASKS).read_text() != before
    assert not git_runs.worktrees_root().joinpath(f"run-{run.pk}").exists()
    client.force_login(demo.team.memberships.get(user__username="demo-member").user)
    page = client.get(f"/projects/{demo.slug}/").content.decode()
    assert (
        "a git repository with no commit yet: agent changes are written straight into the workspace" in page
    )


GIT_PROBE = """import json, subprocess

def git(*args):
    done = subprocess.run(["git", *args], capture_output=True, text=True)
    return {"code": done.returncode, "out": done.stdout.strip(), "err": done.stderr.strip()[:300]}

probe = {
    "log": git("log", "--format=%s", "-1"),
    "status": git("status", "--porcelain"),
    "move_main": git("branch", "-f", "main", "HEAD"),
}
open("GIT_PROBE.json", "w").write(json.dumps(probe))
# Then point the worktree at the project's own repository, so that the worker's commit
# would land on the branch checked out there.
common = open(".git").read().split("gitdir: ", 1)[1].strip().rsplit("/worktrees/", 1)[0]
open(".git", "w").write("gitdir: " + common + "\\n")
"""


def test_a_sandboxed_step_reads_the_history_and_cannot_move_a_branch(demo: Project, settings) -> None:
    """In bubblewrap a step sees its worktree's git history (an agent CLI runs `git diff`,
    `git log`), read-only: branches stay where they are, commits are the worker's."""
    settings.STEP_SANDBOX = "bwrap"
    repo = Path(demo.workspace)
    (repo / "tools").mkdir()
    (repo / "tools" / "git_probe.py").write_text(GIT_PROBE)
    make_repo(repo)
    sh("add", "--all", cwd=repo)
    sh("commit", "--quiet", "-m", "a probe", cwd=repo)
    main = sh("rev-parse", "main", cwd=repo).strip()
    demo.shell_allowlist = ["python"]
    demo.save(update_fields=["shell_allowlist"])
    text = template(
        name="probe-git",
        steps=[{"id": "probe", "uses": "shell", "with": {"command": "python tools/git_probe.py"}}],
    )
    run = drain(start(demo, text))
    assert run.status == "succeeded", run.error
    probe = json.loads(sh("show", f"{run.git_branch}:GIT_PROBE.json", cwd=repo))
    assert probe["log"] == {"code": 0, "out": "a probe", "err": ""}
    assert probe["status"]["code"] == 0 and probe["status"]["out"] == ""
    assert probe["move_main"]["code"] != 0
    # The worker put the worktree's .git file back before committing: the step's files are
    # on the run's branch, main and the workspace are as they were.
    assert sh("rev-parse", "main", cwd=repo).strip() == main
    assert sh("status", "--porcelain", cwd=repo) == ""
    assert sh("log", "-1", "--format=%s", run.git_branch, cwd=repo).strip() == f"Run {run.pk} · step probe"
