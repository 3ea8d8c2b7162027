"""Parallel task branches of a git run: a branch and worktree per branch step, merged back.

A `for_each: parallel_tasks` group of a git run (workflows.engine.git_runs) fans out into
branch steps that run at the same time, so they cannot share the run's worktree: each works
on its own branch, `smartspec/run-<id>-<spec>--<n>-<task>`, made from the run branch's head
at fan-out time (recorded in the branch step's config as `git_fork`), checked out in
`<data dir>/worktrees/run-<id>-<step key>`. Its commit goes on that branch.

When every branch has finished, the join merges the succeeded ones into the run's branch,
in item order, in the run's worktree: `git merge --no-ff`, one merge commit per branch
naming its tasks, so each branch's own commits (the sha in its step's output) stay in the
run's history. A merge that conflicts is aborted, never forced: the caller fails that
branch step with the conflicting files. The branch worktrees go after the join; the
branches stay.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from workflows.domain.task_groups import item_tasks
from workflows.engine.git_runs import (
    GitError,
    _run_lock,
    git,
    run_branch_name,
    set_aside_stale,
    worktrees_root,
)
from workflows.workspace_policy import project_workspace_dir, run_worktree_checked

if TYPE_CHECKING:
    from workflows.models import Run, Step

FORK = "git_fork"  # the branch step's config key: the run branch's head at fan-out time


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:60]


def branch_name(run: Run, step: Step) -> str:
    """`smartspec/run-<id>-<spec>--<n>-<first task>` (n: the branch's index in its group)."""
    index = step.key.rsplit("[", 1)[-1].rstrip("]")
    tasks = item_tasks(step.item)
    suffix = _slug(f"{index}-{tasks[0]}" if tasks else index) or "branch"
    return f"{run.git_branch or run_branch_name(run)}--{suffix}"


def branch_worktree_dir(run_id: int, step_key: str) -> Path:
    return worktrees_root() / f"run-{run_id}-{_slug(step_key)}"


def is_branch_step(step: Step) -> bool:
    """A branch step of a parallel group of a git run: it works in a worktree of its own."""
    return step.parent_id is not None and bool(step.config.get(FORK))


def fork_point(run: Run, repo: Path) -> str:
    """The run branch's head now: where the branches of a group fanned out now start."""
    return git(["rev-parse", "--verify", f"refs/heads/{run.git_branch}^{{commit}}"], cwd=repo).strip()


def branch_worktree(run: Run, step: Step) -> Path:
    """The branch step's worktree, made on first use from its fork point (a retried step
    finds its branch, with what an earlier attempt committed)."""
    repo = project_workspace_dir(run.project)
    path = branch_worktree_dir(run.pk, step.key)
    branch = branch_name(run, step)
    with _run_lock(run.pk):
        set_aside_stale(repo, path)
        if not (path / ".git").exists():
            git(["worktree", "prune"], cwd=repo)
            exists = git(["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=repo, check=False)
            if exists.strip():
                git(["worktree", "add", str(path), branch], cwd=repo)
            else:
                git(["worktree", "add", "-b", branch, str(path), str(step.config[FORK])], cwd=repo)
    return run_worktree_checked(path)


@dataclass
class Merge:
    """How merging one branch went: its merge commit, or the files that conflicted."""

    commit: str = ""
    conflicts: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not (self.conflicts or self.error)


def merge_branch(run: Run, worktree: Path, step: Step) -> Merge:
    """Merge the branch step's branch into the run's branch (checked out in `worktree`).

    Nothing to merge (the branch never moved, or is merged already) is fine: the run's head.
    """
    branch = branch_name(run, step)
    with _run_lock(run.pk):
        head = git(["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=worktree, check=False)
        if not head.strip() or _is_ancestor(worktree, branch):
            return Merge(commit=git(["rev-parse", "HEAD"], cwd=worktree).strip())
        tasks = item_tasks(step.item)
        subject = f"Merge {step.key}" + (f" · {', '.join(tasks)}" if tasks else "") + f" into run {run.pk}"
        try:
            git(["merge", "--no-ff", "--no-edit", "-m", subject, branch], cwd=worktree)
        except GitError as exc:
            if not _merging(worktree):
                return Merge(error=exc.args[0])
            conflicts = git(["diff", "--name-only", "--diff-filter=U", "-z"], cwd=worktree).split("\0")
            git(["merge", "--abort"], cwd=worktree, check=False)
            return Merge(conflicts=sorted(f for f in conflicts if f) or ["(unknown)"])
        return Merge(commit=git(["rev-parse", "HEAD"], cwd=worktree).strip())


def _is_ancestor(worktree: Path, branch: str) -> bool:
    try:
        git(["merge-base", "--is-ancestor", branch, "HEAD"], cwd=worktree)
    except GitError:
        return False
    return True


def _merging(worktree: Path) -> bool:
    """A merge stopped half-way (conflicts): MERGE_HEAD exists."""
    found = git(["rev-parse", "--verify", "--quiet", "MERGE_HEAD"], cwd=worktree, check=False)
    return bool(found.strip())


def remove_branch_worktrees(run: Run, keys: list[str]) -> None:
    """Remove the worktrees of these branch steps; their branches stay."""
    repo = project_workspace_dir(run.project)
    with _run_lock(run.pk):
        for key in keys:
            path = branch_worktree_dir(run.pk, key)
            if path.exists():
                git(["worktree", "remove", "--force", str(path)], cwd=repo, check=False)
                shutil.rmtree(path, ignore_errors=True)
        git(["worktree", "prune"], cwd=repo, check=False)
