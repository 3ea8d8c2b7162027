"""A run's git branch after the agent: merge it into the base branch, push it to the
project's remote and open a pull request.

The rules every door uses (run page, REST API, and the review gate's approval):

- A member (or higher) of the project's team merges a finished run's branch into the base
  branch it started from, with the project's merge strategy, never forced
  (`workflows.engine.git_merge`); a review gate's approval merges the same way while the
  run waits. Every merge is recorded once (`git_merge.merge_recorded`): a `git.merged`
  event on the run and an audit entry.
- A member publishes a run that has commits on its git branch, to the remote the project
  names (`workflows.engine.git_publish.publish_recorded`: the push and the provider's API
  outside any transaction, then a `run.published` event and an audit entry, or
  `run.publish_failed` with the reason when the remote or the provider refused). An
  approved review gate publishes after its merge when the project names a remote
  (`workflows.engine.gates`).
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts.models import Role
from accounts.permissions import has_role
from workflows.domain.texts import Code, Text
from workflows.engine import git_merge
from workflows.engine.git_publish import PublishError, publish_recorded
from workflows.models import Run
from workflows.services.errors import RunError
from workflows.workspace_policy import WorkspaceNotAllowed

logger = logging.getLogger(__name__)

# What to do after a refused merge (sentences of their own: a page shows them translated).
MERGE_ADVICE = {
    "conflict": "resolve the conflict on the base branch (or in a new run), then merge again",
    "dirty": "commit or stash those changes in the workspace, then merge again",
    "not_fast_forward": "the project's merge strategy is fast-forward only: the base branch moved on",
    "moved": "try again",
}


def _no_branch(run: Run) -> Text:
    return Text("Run {run} has no git branch: its project's workspace is not a git repository.", run=run.pk)


def run_merge(*, run: Run, by: User | None, channel: str) -> git_merge.Merged:
    """Merge a finished run's branch into the base branch it started from, with the
    project's merge strategy. Raises PermissionDenied below the member role, RunError
    (conflict) for a run that has no branch or has not finished (a run waiting at a review
    gate merges when the gate is approved), and RunError (merge_refused), naming the files,
    when the merge would need force; nothing changed then."""
    run = Run.objects.select_related("project", "project__team").get(pk=run.pk)
    if by is not None and not has_role(by, run.project.team_id, Role.MEMBER):
        raise PermissionDenied(Text("Merging a run's branch needs the member role."))
    if not run.git_branch:
        raise RunError(_no_branch(run), code="conflict")
    if not run.is_finished:
        raise RunError(
            Text(
                "Run {run} is still {status}: merge its branch once it has finished "
                "(a review gate merges when it is approved).",
                run=run.pk,
                status=Code(run.status),
            ),
            code="conflict",
        )
    who = by.get_username() if by is not None else "the system"
    try:
        merged = git_merge.merge_branch(
            run, run.project.merge_strategy, message=f"Run {run.pk}, merged by {who}."
        )
    except git_merge.MergeRefused as exc:
        advice = MERGE_ADVICE.get(exc.code)
        refused = (
            Text(
                "Merging {branch} was refused: {reason}. Nothing was merged; {advice}.",
                branch=run.git_branch,
                reason=exc.args[0],
                advice=Text(advice),
            )
            if advice
            else Text(
                "Merging {branch} was refused: {reason}. Nothing was merged.",
                branch=run.git_branch,
                reason=exc.args[0],
            )
        )
        raise RunError(refused, code="merge_refused") from None
    except WorkspaceNotAllowed as exc:
        raise RunError(exc.args[0], code="conflict") from None
    with transaction.atomic():
        git_merge.merge_recorded(run, merged, actor=by, channel=channel)
    return merged


def run_publish(*, run: Run, by: User | None, channel: str) -> dict[str, str]:
    """Push the run's branch (and open its pull request); {remote, branch, commit,
    pull_request_url}. `by` None is the system acting (e.g. after an approval). Raises
    PermissionDenied below the member role and RunError (code conflict or upstream) saying
    why nothing, or only the push, was done."""
    run = Run.objects.select_related("project", "project__team").get(pk=run.pk)
    if by is not None and not has_role(by, run.project.team_id, Role.MEMBER):
        raise PermissionDenied(Text("Publishing a run needs the member role."))
    if not run.project.git_remote:
        raise RunError(
            Text(
                "The project names no git remote: a team admin sets one on the project page to publish runs."
            ),
            code="conflict",
        )
    if not run.git_branch:
        raise RunError(_no_branch(run), code="conflict")
    try:
        return publish_recorded(run, by=by, channel=channel)
    except PublishError as exc:
        raise RunError(exc.args[0], code=exc.code) from None
