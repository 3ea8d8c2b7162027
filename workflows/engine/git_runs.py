"""Agent work on git: a branch and a worktree per run, a commit per step that changed files.

When a project's workspace is a git repository (a `.git` at its root), a run works on its
own branch `smartspec/run-<id>-<spec>`, checked out in its own worktree under
`<data dir>/worktrees/run-<id>`, made from the project's base branch (or the repository's
current branch). Its steps read and write there; the base branch and the workspace's
files stay as they were. Each step that changed files commits them as the app, so the
run's history is a series of readable commits. The worktree goes when the run finishes;
the branch stays.

The real `git` runs with argument lists, a timeout and a clean environment (no system or
user config; the author is set per command).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from workflows.domain.texts import Text
from workflows.models import Run
from workflows.workspace_policy import WorkspaceNotAllowed, project_workspace_dir, run_worktree_checked

if TYPE_CHECKING:
    from workflows.models import Project

logger = logging.getLogger(__name__)

GIT_TIMEOUT_SECONDS = 60
AUTHOR_NAME = "SmartSpec Autopilot"
AUTHOR_EMAIL = "autopilot@localhost"


class GitError(RuntimeError):
    """Git failed or the repository is not as the run left it: the message is our sentence
    (workflows.domain.texts.Text), with git's own words in it as a value."""


def _env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C",
        "LC_ALL": "C",
        "HOME": str(Path(settings.DATA_DIR)),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
    }


def git(
    args: Sequence[str], *, cwd: Path, check: bool = True, extra_env: Mapping[str, str] | None = None
) -> str:
    """Run `git <args>` in `cwd` as the app; its standard output (GitError when it fails).
    `extra_env` adds to the clean environment (e.g. configuration that must not be on the
    command line or in a file: workflows.engine.git_publish)."""
    code, out, err = git_result(args, cwd=cwd, extra_env=extra_env)
    if check and code != 0:
        raise GitError(Text("git {command} failed: {error}", command=args[0], error=err.strip()))
    return out


def git_result(
    args: Sequence[str], *, cwd: Path, extra_env: Mapping[str, str] | None = None
) -> tuple[int, str, str]:
    """Run `git <args>` in `cwd` as the app: (exit status, standard output, standard error),
    for commands whose exit status is the answer (GitError only when git cannot run)."""
    done = run_git(args, cwd=cwd, extra_env=extra_env)
    return done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")


def run_git(
    args: Sequence[str], *, cwd: Path, extra_env: Mapping[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """`git <args>` as the app, its output as bytes (git_result decodes it; a reader of
    blobs does not)."""
    argv = [
        "git",
        "-c", f"user.name={AUTHOR_NAME}",
        "-c", f"user.email={AUTHOR_EMAIL}",
        "-c", "core.quotepath=off",
        "-c", "commit.gpgsign=false",
        # The repository's own hooks and fsmonitor never run as the app.
        "-c", f"core.hooksPath={os.devnull}",
        "-c", "core.fsmonitor=false",
        *args,
    ]  # fmt: skip
    try:
        return subprocess.run(
            argv,
            cwd=cwd,
            env={**_env(), **(extra_env or {})},
            input=stdin,
            capture_output=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(Text("git {command}: {error}", command=args[0], error=str(exc))) from None


def is_git_repo(path: Path) -> bool:
    """The workspace is a repository of its own: a `.git` at its root."""
    return (path / ".git").exists() and shutil.which("git") is not None


def has_commit(repo: Path) -> bool:
    """The repository's current branch has a commit (a fresh `git init` has none)."""
    return bool(git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], cwd=repo, check=False).strip())


def git_mode(path: Path) -> str:
    """How runs of a project with this workspace work: 'branch' (a branch and worktree per
    run), 'no_commit' (a repository with nothing to branch from yet) or 'none' (no git)."""
    if not is_git_repo(path):
        return "none"
    try:
        return "branch" if has_commit(path) else "no_commit"
    except GitError:
        return "none"


def worktrees_root() -> Path:
    return Path(settings.DATA_DIR).resolve() / "worktrees"


def run_worktree_dir(run_id: int) -> Path:
    return worktrees_root() / f"run-{run_id}"


def run_branch_name(run: Run) -> str:
    spec = re.sub(r"[^A-Za-z0-9_-]+", "-", run.spec_id).strip("-")
    return f"smartspec/run-{run.pk}-{spec}" if spec else f"smartspec/run-{run.pk}"


@contextmanager
def _run_lock(run_id: int) -> Iterator[None]:
    """One git operation per run at a time, across worker processes."""
    root = worktrees_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".run-{run_id}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


run_lock = _run_lock  # for the other modules that work on a run's branch (git_publish)


def base_branch(project: Project, repo: Path) -> str:
    """The branch a run starts from: the project's, or the repository's current one."""
    name = project.base_branch.strip()
    if name:
        if name.startswith("-") or git(["check-ref-format", "--branch", name], cwd=repo, check=False) == "":
            raise GitError(Text("the base branch {name!r} is not a branch name", name=name))
        return name
    return git(["symbolic-ref", "--short", "HEAD"], cwd=repo).strip()


def works_on_git(run: Run) -> bool:
    """The run works on its git branch, or will from its first step (run_worktree makes the
    branch then): it has one, or its workspace is a repository (a `.git` at its root). A
    cheap look, before workspace_policy's checks."""
    if run.git_branch:
        return True
    workspace = run.project.workspace.strip()
    return bool(workspace) and (Path(workspace) / ".git").exists()


def run_worktree(run: Run) -> Path | None:
    """The run's worktree, made on first use; None when the workspace is no git repository.

    Records the run's branch, base commit and base branch on the run the first time.
    """
    if not works_on_git(run):
        # No repository there, so no worktree: the step reads and writes the workspace,
        # checked by workspace_policy when it does. This skips that check's cost (a third of
        # a no-op step, docs/benchmarks.md) for the steps that never touch the workspace.
        return None
    try:
        repo = project_workspace_dir(run.project)
    except WorkspaceNotAllowed:
        return None  # the step fails saying why as soon as it touches the workspace
    if not is_git_repo(repo):
        if run.git_branch:
            raise GitError(
                Text(
                    "the workspace is no longer a git repository; the run works on {branch}",
                    branch=run.git_branch,
                )
            )
        return None
    if not run.git_branch and not run.project.base_branch.strip() and not has_commit(repo):
        return None  # nothing to branch from yet: written straight into the workspace, as without git
    path = run_worktree_dir(run.pk)
    with _run_lock(run.pk):
        # Another worker may have begun the run's branch since `run` was read.
        run.git_branch, run.git_base, run.git_base_branch = Run.objects.values_list(
            "git_branch", "git_base", "git_base_branch"
        ).get(pk=run.pk)
        if not run.git_branch:
            branch = run_branch_name(run)
            start = base_branch(run.project, repo)
            base = git(["rev-parse", "--verify", f"{start}^{{commit}}"], cwd=repo).strip()
            Run.objects.filter(pk=run.pk).update(git_branch=branch, git_base=base, git_base_branch=start)
            run.git_branch, run.git_base, run.git_base_branch = branch, base, start
        set_aside_stale(repo, path)
        if not (path / ".git").exists():
            git(["worktree", "prune"], cwd=repo)
            exists = git(
                ["rev-parse", "--verify", "--quiet", f"refs/heads/{run.git_branch}"], cwd=repo, check=False
            )
            if exists.strip():
                git(["worktree", "add", str(path), run.git_branch], cwd=repo)
            else:
                git(["worktree", "add", "-b", run.git_branch, str(path), run.git_base], cwd=repo)
    return run_worktree_checked(path)


def set_aside_stale(repo: Path, path: Path) -> None:
    """Move a folder at `path` that is no worktree of `repo` out of the way, to
    `<worktrees>/stale-<name>-<time>`: a leftover of a data directory used again with a new
    database, whose run numbers start again. Moved, never deleted: it may hold work."""
    if not path.exists() or worktree_git_dirs(repo, path) is not None:
        return
    aside = worktrees_root() / f"stale-{path.name}-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}"
    logger.warning("%s is no worktree of %s: moved aside to %s", path, repo, aside)
    path.rename(aside)


def worktree_git_dirs(repo: Path, worktree: Path) -> tuple[Path, Path] | None:
    """(the worktree's own git directory, the repository's common one) of one of the app's
    worktrees of `repo`, or None. Found from the repository, never from the worktree's
    `.git` file, which a step may have rewritten: a sandboxed step sees the history
    through them (workflows.engine.executors.sandbox)."""
    common = (repo / ".git").resolve()
    private = common / "worktrees" / worktree.name
    if not common.is_dir() or not (private / "HEAD").is_file():
        return None
    return private, common


def _restore_git_file(repo: Path, worktree: Path) -> None:
    """Put back the worktree's `.git` file as `git worktree add` wrote it: the step could
    have pointed it at another repository (the project's own `.git`, whose checked-out
    branch the commit would then move)."""
    dirs = worktree_git_dirs(repo, worktree)
    if dirs is None:
        raise GitError(
            Text("{worktree} is no longer a worktree of the project's repository", worktree=str(worktree))
        )
    marker = worktree / ".git"
    if marker.is_dir() and not marker.is_symlink():
        shutil.rmtree(marker)
    elif marker.exists() or marker.is_symlink():
        marker.unlink()
    marker.write_text(f"gitdir: {dirs[0]}\n")


def commit_step(
    run: Run, worktree: Path, *, step_key: str, tasks: Sequence[str] = ()
) -> tuple[str, str] | None:
    """Commit what the step changed in the run's worktree: (its sha, its parent's), or None
    when nothing changed."""
    with _run_lock(run.pk):
        _restore_git_file(project_workspace_dir(run.project), worktree)
        git(["add", "--all"], cwd=worktree)
        # The index against HEAD: no second walk of the working tree (bench/bench_git.py).
        if not git(["diff", "--cached", "--name-only", "-z"], cwd=worktree):
            return None
        subject = f"Run {run.pk} · step {step_key}" + (f" · spec {run.spec_id}" if run.spec_id else "")
        body = f"\n\nTasks: {', '.join(tasks)}" if tasks else ""
        git(["commit", "--quiet", "--no-verify", "-m", subject + body], cwd=worktree)
        commit, parent = git(["rev-parse", "HEAD", "HEAD^"], cwd=worktree).split()
        return commit, parent


def remove_run_worktree(run: Run) -> None:
    """Remove the run's worktree (its branch stays); nothing when it has none."""
    path = run_worktree_dir(run.pk)
    if not run.git_branch:
        return
    # With the worktrees a parallel group's branches left (a cancelled run): git_branches.py.
    paths = [path, *worktrees_root().glob(f"run-{run.pk}-*")]
    with _run_lock(run.pk):
        try:
            repo = project_workspace_dir(run.project)
            for each in paths:
                git(["worktree", "remove", "--force", str(each)], cwd=repo, check=False)
            git(["worktree", "prune"], cwd=repo, check=False)
        finally:
            for each in paths:
                if each.exists():
                    shutil.rmtree(each, ignore_errors=True)


# ---- what changed ------------------------------------------------------------------------
