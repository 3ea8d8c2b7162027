"""Runs: start, list, read, control, and follow their events.

POST /runs                 start (members and up): project, workflow, spec_id?, params → 201
GET  /runs                 my teams' runs; filter by project, spec_id, status
GET  /runs/{id}            one run with its steps
POST /runs/{id}/cancel     | members and up; 409 when the run's state does not allow it
POST /runs/{id}/resume     |
POST /runs/{id}/retry      |
POST /runs/{id}/merge      merge a finished run's branch into its base branch, never forced (members)
POST /runs/{id}/publish    push the run's branch to the project's remote, open its pull request (members)
GET  /runs/{id}/events     events after sequence `after`, oldest first
GET  /runs/{id}/changes    files changed on the run's git branch, per step and in all (?step=)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response
from ninja import Field, Query, Router, Schema
from ninja.responses import NinjaJSONEncoder, Status

from accounts.models import Role
from workflows.api.auth import caller
from workflows.api.errors import ApiError, error_responses
from workflows.api.pagination import PageQuery, page_of
from workflows.api.run_cache import run_details
from workflows.api.schemas import (
    SLUG_PATTERN,
    SPEC_ID_MAX_LENGTH,
    SPEC_ID_PATTERN,
    EventsOut,
    RunChangesOut,
    RunCreateIn,
    RunDetailOut,
    RunMergedOut,
    RunPageOut,
    RunPublishedOut,
    RunStatus,
)
from workflows.engine import git_changes, git_runs
from workflows.models import Project, Run
from workflows.selectors import get_project_for_user, get_run_for_user, runs_visible_to
from workflows.services.publishing import run_merge, run_publish
from workflows.services.runs import run_cancel, run_resume, run_retry, run_start, workflow_version

router = Router(tags=["runs"])

MAX_EVENTS = 1000


class RunFilters(PageQuery):
    project: str | None = Field(None, pattern=SLUG_PATTERN, description="A project's slug.")
    spec_id: str | None = Field(None, pattern=SPEC_ID_PATTERN, max_length=SPEC_ID_MAX_LENGTH)
    status: RunStatus | None = None


class EventsQuery(Schema):
    after: int = Field(0, ge=0, le=2**62, description="Answer the events after this seq.")
    limit: int = Field(500, ge=1, le=MAX_EVENTS)


@router.post("", response={201: RunDetailOut, **error_responses(403, 404, 409, 503)}, summary="Start a run")
def create_run(request: HttpRequest, payload: RunCreateIn) -> Any:
    project = get_project_for_user(caller(request), payload.project, role=Role.MEMBER)
    run = start_workflow(
        request,
        project,
        payload.workflow,
        payload.spec_id or "",
        payload.params,
        allow_concurrent=payload.allow_concurrent,
    )
    return Status(201, run_detail(run.pk, request))


@router.get("", response={200: RunPageOut, **error_responses()}, summary="My teams' runs")
def list_runs(request: HttpRequest, filters: Query[RunFilters]) -> Any:
    runs = runs_visible_to(caller(request)).order_by("-created_at", "-id")
    if filters.project:
        runs = runs.filter(project__slug=filters.project)
    if filters.spec_id:
        runs = runs.filter(spec_id=filters.spec_id)
    if filters.status:
        runs = runs.filter(status=filters.status)
    return page_of(runs, filters)


@router.get("/{int:run_id}", response={200: RunDetailOut, **error_responses(404)})
def get_run(request: HttpRequest, run_id: int) -> Any:
    def render() -> bytes:
        detail = RunDetailOut.from_orm(run_detail(run_id, request)).model_dump()
        return json.dumps(detail, cls=NinjaJSONEncoder).encode()

    etag, body = run_details.get(run_id, caller(request), render)
    unchanged = get_conditional_response(request, etag=etag)
    response = unchanged or HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    return response


def _control(service: Callable[..., Run], verb: str) -> Callable[[HttpRequest, int], Any]:
    def control(request: HttpRequest, run_id: int) -> Any:
        run = get_run_for_user(caller(request), run_id, role=Role.MEMBER)
        service(run=run, by=caller(request), channel="api")
        return run_detail(run.pk, request)

    control.__name__ = f"{verb}_run"
    control.__doc__ = f"{verb.capitalize()} the run (members and up)."
    return control


for _verb, _service in (("cancel", run_cancel), ("resume", run_resume), ("retry", run_retry)):
    router.post(
        f"/{{int:run_id}}/{_verb}",
        response={200: RunDetailOut, **error_responses(403, 404, 409, 503)},
        summary=f"{_verb.capitalize()} a run",
        operation_id=f"{_verb}_run",
    )(_control(_service, _verb))


@router.post(
    "/{int:run_id}/merge",
    response={200: RunMergedOut, **error_responses(403, 404, 409, 503)},
    summary="Merge a finished run's branch into the branch it started from (members and up)",
)
def merge_run(request: HttpRequest, run_id: int) -> Any:
    """With the project's merge strategy, never forced: 409 `merge_refused`, naming the
    files, when the branches conflict, a fast-forward is not possible or the workspace has
    changes in the way; 409 `conflict` for a run that has not finished or has no branch.
    Merging again when the base branch has every commit answers `nothing_to_merge`."""
    run = get_run_for_user(caller(request), run_id, role=Role.MEMBER)
    merged = run_merge(run=run, by=caller(request), channel="api")
    return {"run": run.pk, **merged.as_dict()}


@router.post(
    "/{int:run_id}/publish",
    response={200: RunPublishedOut, **error_responses(403, 404, 409, 502, 503)},
    summary="Push a run's branch to the project's remote and open its pull request (members and up)",
)
def publish_run(request: HttpRequest, run_id: int) -> Any:
    """409 when there is nothing to publish or the project's settings do not allow it (no
    remote, no branch or commits, the token's variable unset); 502 with the remote's or the
    provider's own message when they refuse or cannot be reached (the push may have been
    made: publishing again pushes nothing new and opens the pull request)."""
    run = get_run_for_user(caller(request), run_id, role=Role.MEMBER)
    return {"run": run.pk, **run_publish(run=run, by=caller(request), channel="api")}


@router.get(
    "/{int:run_id}/events",
    response={200: EventsOut, **error_responses(404)},
    summary="Events after sequence N",
)
def list_events(request: HttpRequest, run_id: int, query: Query[EventsQuery]) -> Any:
    run = get_run_for_user(caller(request), run_id)
    events = list(run.events.filter(seq__gt=query.after).order_by("seq")[: query.limit + 1])
    more = len(events) > query.limit
    events = events[: query.limit]
    return {
        "run": run.pk,
        "after": query.after,
        "items": [event.as_message() for event in events],
        "last_seq": events[-1].seq if events else query.after,
        "more": more,
    }


class ChangesQuery(Schema):
    step: str | None = Field(None, max_length=200, description="Only this step's changes.")
    diffs: bool = Field(
        True,
        description="false: the files named and counted only, each `diff` empty (cheaper for a long run).",
    )


@router.get(
    "/{int:run_id}/changes",
    response={200: RunChangesOut, **error_responses(404, 409)},
    summary="What the run changed on its git branch",
)
def list_changes(request: HttpRequest, run_id: int, query: Query[ChangesQuery]) -> Any:
    """Per step that committed, the files it changed with a unified diff each, and (without
    `step`) the whole run: the run's base commit to its branch's head."""
    run = get_run_for_user(caller(request), run_id)
    if query.step is not None and not run.steps.filter(key=query.step).exists():
        raise Http404("No such step in this run.")
    try:
        changes = git_changes.run_changes(run, query.step, with_diffs=None if query.diffs else ())
    except git_runs.GitError as exc:
        raise ApiError(409, f"The run's git branch cannot be read: {exc}", "git_unavailable") from None
    return {"run": run.pk, **changes}


# --- helpers (the intents endpoint answers with run_detail too) ----------------------------------


def start_workflow(
    request: HttpRequest,
    project: Project,
    workflow: str,
    spec_id: str,
    params: dict[str, Any],
    *,
    allow_concurrent: bool = False,
) -> Run:
    """Start the latest version of `workflow`; the caller checked the project role."""
    version = workflow_version(project, workflow)
    return run_start(
        project=project,
        version=version,
        spec_id=spec_id,
        params=params,
        started_by=caller(request),
        channel="api",
        allow_concurrent=allow_concurrent,
    )


def run_detail(run_id: int, request: HttpRequest) -> Run:
    """The run as it is now (after a service changed it), for RunDetailOut."""
    run = runs_visible_to(caller(request)).filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run.")
    return run
