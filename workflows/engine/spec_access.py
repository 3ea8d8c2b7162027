"""What the engine reads of a run's spec (for `for_each: tasks | pending_tasks`)."""

from __future__ import annotations

from workflows.domain.verification import verify_spec
from workflows.domain.workspace import ScopeError, UnknownSpec, WorkspaceError
from workflows.models import Run
from workflows.workspace_policy import WorkspaceNotAllowed, project_workspace


def task_ids(run: Run, *, pending_only: bool) -> list[str]:
    """Task ids of the run's spec; pending ones are those not verified yet."""
    if not run.spec_id:
        raise LookupError("fanning out over tasks needs the run to name a spec")
    try:
        report = verify_spec(project_workspace(run.project), run.spec_id)
    except (UnknownSpec, WorkspaceError, ScopeError, WorkspaceNotAllowed) as exc:
        raise LookupError(str(exc)) from None
    return [t.id for t in report.tasks if not (pending_only and t.verified)]
