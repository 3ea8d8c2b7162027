"""Publishing a run's branch: push it to the project's remote and open a pull request.

The one rule every door uses (run page, REST API, and the review gate's approval): a
member (or higher) of the project's team publishes a run that has commits on its git
branch, to the remote the project names. The push and the provider's API are called
outside any transaction; what came of it is recorded after, as an event on the run
(`run.published`, or `run.publish_failed` with the reason when the remote or the
provider refused) and, on success, an audit entry.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import Role
from accounts.permissions import has_role
from accounts.services import audit_record
from workflows.engine.git_publish import PublishError, publish_run
from workflows.engine.journal import event_append
from workflows.models import Run
from workflows.services.runs import RunError


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
