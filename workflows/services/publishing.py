"""A run's git branch after the agent: merge it into the base branch, push it to the
project's remote and open a pull request.

The rules every door uses (run page, REST API, and the review gate's approval):

- A member (or higher) of the project's team merges a finished run's branch into the base
  branch it started from, with the project's merge strategy, never forced
  (`workflows.engine.git_merge`); a review gate's approval merges the same way while the
  run waits. Every merge is recorded once (`merge_recorded`): a `git.merged` event on the
  run and an audit entry.
- A member publishes a run that has commits on its git branch, to the remote the project
  names. The push and the provider's API are called outside any transaction; what came
  of it is recorded after, as an event on the run (`run.published`, or
  `run.publish_failed` with the reason when the remote or the provider refused) and, on
  success, an audit entry. A review gate's approval publishes after its merge when the
  project names a remote.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import Role
from accounts.permissions import has_role
from accounts.services import audit_record
from workflows.engine import git_merge
from workflows.engine.git_publish import PublishError, publish_run
from workflows.models import ApprovalGate, Run, Step
from workflows.services.errors import RunError
from workflows.services.events import event_append
from workflows.workspace_policy import WorkspaceNotAllowed

logger = logging.getLogger(__name__)

MERGE_ADVICE = {
    "conflict": "resolve the conflict on the base branch (or in a new run), then merge again",
    "dirty": "commit or stash those changes in the workspace, then merge again",
    "not_fast_forward": "the project's merge strategy is fast-forward only: the base branch moved on",
    "moved": "try again",
}


def run_merge(*, run: Run, by: User | None, channel: str) -> git_merge.Merged:
    """Merge a finished run's branch into the base branch it started from, with the
    project's merge strategy. Raises PermissionDenied below the member role, RunError
    (conflict) for a run that has no branch or has not finished (a run waiting at a review
    gate merges when the gate is approved), and RunError (merge_refused), naming the files,
    when the merge would need force; nothing changed then."""
    run = Run.objects.select_related("project", "project__team").get(pk=run.pk)
    if by is not None and not has_role(by, run.project.team_id, Role.MEMBER):
        raise PermissionDenied("Merging a run's branch needs the member role.")
    if not run.git_branch:
        raise RunError(
            f"Run {run.pk} has no git branch: its project's workspace is not a git repository.",
            code="conflict",
        )
    if not run.is_finished:
        raise RunError(
            f"Run {run.pk} is still {run.status}: merge its branch once it has finished "
            "(a review gate merges when it is approved).",
            code="conflict",
        )
    who = by.get_username() if by is not None else "the system"
    try:
        merged = git_merge.merge_branch(
            run, run.project.merge_strategy, message=f"Run {run.pk}, merged by {who}."
        )
    except git_merge.MergeRefused as exc:
        advice = MERGE_ADVICE.get(exc.code)
        raise RunError(
            f"Merging {run.git_branch} was refused: {exc}. Nothing was merged"
            + (f"; {advice}." if advice else "."),
            code="merge_refused",
        ) from None
    except WorkspaceNotAllowed as exc:
        raise RunError(str(exc), code="conflict") from None
    with transaction.atomic():
        merge_recorded(run, merged, actor=by, channel=channel)
    return merged


def merge_recorded(
    run: Run,
    merged: git_merge.Merged,
    *,
    actor: User | None,
    channel: str,
    step: Step | None = None,
    gate: ApprovalGate | None = None,
) -> dict[str, Any]:
    """Put a merge of the run's branch on the record: a `git.merged` event and an audit
    entry (with the gate that approved it, if any); what was recorded. Call inside a
    transaction."""
    record: dict[str, Any] = {**merged.as_dict(), "at": timezone.now().isoformat()}
    data = {"gate": gate.pk, **record} if gate is not None else dict(record)
    event_append(run_id=run.pk, type="git.merged", step=step, data=data)
    audit_record(
        action="workflows.run.merged", channel=channel, actor=actor, team=run.project.team, obj=run, data=data
    )
    return record


def publish_after_review(run_id: int, *, by: User | None, channel: str) -> None:
    """After a review gate's approval merged the run's branch: publish it when the project
    names a remote. A refusal does not undo the approval: it is on the run's record
    (`run.publish_failed`) and the run page offers to publish again."""
    run = Run.objects.select_related("project").get(pk=run_id)
    if not run.project.git_remote or not run.git_branch:
        return
    try:
        run_publish(run=run, by=by, channel=channel)
    except (RunError, PermissionDenied) as exc:
        logger.warning("run %s: publishing after the review failed: %s", run_id, exc)
        if getattr(exc, "code", "") != "upstream":  # run_publish recorded the upstream ones
            with transaction.atomic():
                event_append(run_id=run_id, type="run.publish_failed", data={"error": str(exc)})


def run_publish(*, run: Run, by: User | None, channel: str) -> dict[str, str]:
    """Push the run's branch (and open its pull request); {remote, branch, commit,
    pull_request_url}. `by` None is the system acting (e.g. after an approval). Raises
    PermissionDenied below the member role and RunError (code conflict or upstream) saying
    why nothing, or only the push, was done."""
    run = Run.objects.select_related("project", "project__team").get(pk=run.pk)
    if by is not None and not has_role(by, run.project.team_id, Role.MEMBER):
        raise PermissionDenied("Publishing a run needs the member role.")
    if not run.project.git_remote:
        raise RunError(
            "The project names no git remote: a team admin sets one on the project page to publish runs.",
            code="conflict",
        )
    if not run.git_branch:
        raise RunError(
            f"Run {run.pk} has no git branch: its project's workspace is not a git repository.",
            code="conflict",
        )
    try:
        result = publish_run(run)
    except PublishError as exc:
        if exc.code == "upstream":  # tried, and the remote or the provider said no: on the record
            with transaction.atomic():
                event_append(run_id=run.pk, type="run.publish_failed", data={"error": str(exc)})
        raise RunError(str(exc), code=exc.code) from None
    with transaction.atomic():
        Run.objects.filter(pk=run.pk).update(
            pushed_at=timezone.now(), pull_request_url=result["pull_request_url"]
        )
        event_append(run_id=run.pk, type="run.published", data=dict(result))
        audit_record(
            action="workflows.run.published",
            channel=channel,
            actor=by,
            team=run.project.team,
            obj=run,
            data=dict(result),
        )
    return result
