"""What the engine reads of a run's spec (for `for_each: tasks | pending_tasks`)."""

from __future__ import annotations

from workflows.domain.verification import verify_spec
from workflows.domain.workspace import ScopeError, UnknownSpec, Workspace, WorkspaceError
from workflows.engine import git_runs
from workflows.models import Run
from workflows.workspace_policy import WorkspaceNotAllowed, project_workspace


def task_ids(run: Run, *, pending_only: bool) -> list[str]:
    """Task ids of the run's spec; pending ones are those not verified yet."""
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
        raise LookupError(str(exc)) from None
    return [t.id for t in report.tasks if not (pending_only and t.verified)]
