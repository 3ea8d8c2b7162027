"""The items a `for_each` step fans out over."""

from __future__ import annotations

from typing import Any

from workflows.domain.template_format import PARALLEL_TASKS
from workflows.domain.texts import Text
from workflows.engine import git_branches, git_runs
from workflows.engine.spec_access import open_task_batches, task_ids
from workflows.models import Run, Step
from workflows.workspace_policy import WorkspaceNotAllowed, project_workspace_dir

MAX_ITEMS = 10_000


def resolve_items(run: Run, group: Step) -> tuple[list[Any], str]:
    """The items, or an error saying why there are none to have."""
    source = group.for_each
    if isinstance(source, list):
        items = source
    elif isinstance(source, str) and source.startswith("params."):
        name = source.removeprefix("params.")
        items = run.params.get(name)
        if not isinstance(items, list):
            return [], f"for_each: the run's params.{name} must be a list"
    elif source in ("tasks", "pending_tasks"):
        try:
            items = task_ids(run, pending_only=source == "pending_tasks")
        except LookupError as exc:
            return [], f"for_each: {exc}"
    elif source == PARALLEL_TASKS:
        try:
            batches = open_task_batches(run)
        except LookupError as exc:
            return [], f"for_each: {exc}"
        # The first batch only: the next one may build on it (see domain/task_groups.py).
        items = [task_group.item for task_group in batches[0]] if batches else []
    else:
        return [], f"for_each: cannot fan out over {source!r}"
    if len(items) > MAX_ITEMS:
        return [], f"for_each: {len(items)} items is more than the limit of {MAX_ITEMS}"
    return list(items), ""


def branch_config(run: Run, group: Step) -> tuple[dict[str, Any], str]:
    """The config of the group's branches: a parallel_tasks group of a git run records
    where its branches fork (the run branch's head now); or an error saying why not."""
    if group.for_each != PARALLEL_TASKS or not run.git_branch:
        return group.config, ""
    try:
        fork = git_branches.fork_point(run, project_workspace_dir(run.project))
    except (git_runs.GitError, WorkspaceNotAllowed) as exc:
        return group.config, Text("for_each: the run's branch: {reason}", reason=exc.args[0])
    return {**group.config, git_branches.FORK: fork}, ""
