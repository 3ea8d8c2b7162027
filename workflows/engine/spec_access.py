"""What the engine reads of a run's spec (for `for_each: tasks | pending_tasks | parallel_tasks`)."""

from __future__ import annotations

from workflows.domain.task_groups import Batch, task_batches
from workflows.domain.texts import reason_of
from workflows.domain.verification import TaskStatus, VerificationReport, verify_spec
from workflows.domain.workspace import ScopeError, UnknownSpec, Workspace, WorkspaceError
from workflows.engine import git_runs
from workflows.models import Run
from workflows.workspace_policy import WorkspaceNotAllowed, project_workspace


def task_ids(run: Run, *, pending_only: bool) -> list[str]:
    """Task ids of the run's spec; pending ones are those not verified yet."""
    report = _report(run)
    return [t.id for t in report.tasks if not (pending_only and t.verified)]


def open_task_batches(run: Run) -> list[Batch]:
    """The open tasks of the run's spec as batches (workflows.domain.task_groups): not
    verified, not optional, and not only checkable by a person."""
    report = _report(run)
    return task_batches(
        t for t in report.tasks if not (t.verified or t.optional or t.status is TaskStatus.NEEDS_MANUAL)
    )


def _report(run: Run) -> VerificationReport:
    if not run.spec_id:
        raise LookupError("fanning out over tasks needs the run to name a spec")
    try:
        worktree = git_runs.run_worktree(run)  # a git project's run reads its own branch
        workspace = (
            project_workspace(run.project)
            if worktree is None
            else Workspace(worktree, options=run.project.read_options())
        )
        report = verify_spec(workspace, run.spec_id)
    except (UnknownSpec, WorkspaceError, ScopeError, WorkspaceNotAllowed, git_runs.GitError) as exc:
        raise LookupError(reason_of(exc)) from None
    return report
