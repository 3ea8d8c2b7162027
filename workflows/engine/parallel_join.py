"""The join of a `for_each: parallel_tasks` group: wait for every branch, then merge.

A parallel group never settles early (its join policy is applied once every branch has
finished), since each branch's work is kept. On git, the succeeded branches are then merged
into the run's branch in item order (workflows.engine.git_branches); a branch whose merge
conflicts fails, its error naming the conflicting files, while the merges before and after
it stay. Runs inside the scheduler's transaction, which holds the run's row, so two workers
finishing the last two branches at once merge once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

from workflows.domain.texts import Text, reason_of
from workflows.engine import git_branches, git_runs
from workflows.engine.journal import event_append
from workflows.models import Run, Step

logger = logging.getLogger(__name__)
S = Step.Status


def _index(step: Step) -> int:
    return int(step.key.rsplit("[", 1)[-1].rstrip("]"))


def join_parallel(group: Step, *, step_set_status: Callable[..., bool]) -> bool:
    """False while a branch of the group is still to finish; True once every branch has
    (and, on git, its succeeded branches were merged): the join policy may then decide.

    The scheduler calls this and passes its compare-and-set (`step_set_status`), with
    which a branch whose merge conflicted is failed: this module stays below the scheduler."""
    branches = sorted(group.branches.all(), key=_index)
    if any(b.status not in Step.FINISHED for b in branches):
        return False
    forked = [b for b in branches if git_branches.is_branch_step(b)]
    if not forked:
        return True  # no git: the branches shared the one workspace
    run = Run.objects.select_related("project").get(pk=group.run_id)
    merged: list[str] = []
    conflicts: dict[str, list[str]] = {}
    for branch in forked:
        if branch.status != S.SUCCEEDED:
            continue
        merge = _merge(run, branch)
        if merge.ok:
            merged.append(branch.key)
            git_info = {**(branch.output.get("git") or {}), "merge": merge.commit}
            Step.objects.filter(pk=branch.pk).update(output={**branch.output, "git": git_info})
        else:
            conflicts[branch.key] = merge.conflicts
            _fail(run, branch, merge, step_set_status)
    event_append(
        run_id=run.pk,
        type="step.progress",
        step=group,
        data={"merged": merged, "conflicts": conflicts, "branch": run.git_branch},
    )
    keys = [b.key for b in forked]
    transaction.on_commit(lambda: _remove_worktrees(run, keys))
    return True


def _merge(run: Run, branch: Step) -> git_branches.Merge:
    try:
        worktree = git_runs.run_worktree(run)
        if worktree is None:
            return git_branches.Merge(error=Text("the run has no git worktree to merge into"))
        return git_branches.merge_branch(run, worktree, branch)
    except git_runs.GitError as exc:
        return git_branches.Merge(error=reason_of(exc))


def _fail(run: Run, branch: Step, merge: git_branches.Merge, step_set_status: Callable[..., bool]) -> None:
    name = git_branches.branch_name(run, branch)
    if merge.conflicts:
        error = Text(
            "merging {branch} into {run_branch} conflicted in {files}; the merge was aborted: the "
            "run's branch keeps the other branches' work, this branch keeps its own",
            branch=name,
            run_branch=run.git_branch,
            files=", ".join(merge.conflicts),
        )
    else:
        error = Text(
            "merging {branch} into {run_branch} failed: {reason}",
            branch=name,
            run_branch=run.git_branch,
            reason=merge.error,
        )
    output = {**branch.output, "merge_conflicts": merge.conflicts}
    step_set_status(branch, S.FAILED, event="step.failed", error=error, output=output)


def _remove_worktrees(run: Run, keys: list[str]) -> None:
    try:
        git_branches.remove_branch_worktrees(run, keys)
    except Exception:  # never let cleaning up break the run
        logger.exception("removing the branch worktrees of run %s failed", run.pk)
