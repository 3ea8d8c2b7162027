"""Projects and their specs.

GET  /projects                      the caller's teams' projects
POST /projects                      create one (team admins)
GET  /projects/{slug}               one project
GET  /projects/{slug}/specs         every spec with its status and next step
GET  /projects/{slug}/specs/{id}    status, recommendation, tasks with their verification
POST   /projects/{slug}/specs/{id}/tasks/{task}/manual-check   record a person's check (members)
DELETE /projects/{slug}/specs/{id}/tasks/{task}/manual-check   withdraw it (members)
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from accounts.models import Role, Team
from accounts.permissions import has_role, teams_of
from workflows import specs
from workflows.api.auth import caller
from workflows.api.errors import ApiError, error_responses
from workflows.api.pagination import PageQuery, page_of
from workflows.api.schemas import (
    ProjectCreateIn,
    ProjectOut,
    ProjectPageOut,
    ProjectUpdateIn,
    SpecDetailOut,
    SpecPageOut,
    StrictIn,
)
from workflows.domain.routing import recommend
from workflows.domain.status import SpecDetail, StatusCache
from workflows.domain.workspace import Workspace, is_spec_id
from workflows.models import AgentUsage, Project
from workflows.selectors import get_project_for_user, projects_visible_to
from workflows.services.manual_checks import manual_check_record, manual_check_withdraw
from workflows.services.projects import project_create, project_update

router = Router(tags=["projects"])


@router.get("", response={200: ProjectPageOut, **error_responses()}, summary="My projects")
def list_projects(request: HttpRequest, page: Query[PageQuery]) -> Any:
    return page_of(projects_visible_to(caller(request)).order_by("name", "pk"), page)


@router.post(
    "",
    response={201: ProjectOut, **error_responses(403, 404, 409, 503)},
    summary="Create a project (team admins)",
)
def create_project(request: HttpRequest, payload: ProjectCreateIn) -> Any:
    team = _team_for_admin(request, payload.team)
    if Project.objects.filter(slug=payload.slug).exists():
        raise ApiError(409, f"The project slug {payload.slug!r} is taken.", "conflict")
    project = project_create(
        team=team,
        slug=payload.slug,
        name=payload.name,
        workspace=payload.workspace,
        shell_allowlist=payload.shell_allowlist,
        base_branch=payload.base_branch,
        reading=payload.reading(),
        spending=payload.spending(),
        git=payload.git(),
        created_by=caller(request),
        channel="api",
    )
    return Status(201, project)


@router.patch(
    "/{slug}",
    response={200: ProjectOut, **error_responses(403, 404, 503)},
    summary="Rename a project, change its shell allow-list, how its specs are read, its agent "
    "budgets and token prices, or where runs are published (team admins)",
)
def update_project(request: HttpRequest, slug: str, payload: ProjectUpdateIn) -> Any:
    project = get_project_for_user(caller(request), slug, role=Role.ADMIN)
    return project_update(
        project=project,
        updated_by=caller(request),
        channel="api",
        name=payload.name,
        shell_allowlist=payload.shell_allowlist,
        base_branch=payload.base_branch,
        reading=payload.reading(),
        spending=payload.spending(),
        git=payload.git(),
    )


@router.get("/{slug}", response={200: ProjectOut, **error_responses(404)}, summary="One project")
def get_project(request: HttpRequest, slug: str) -> Any:
    return get_project_for_user(caller(request), slug)


@router.get(
    "/{slug}/specs",
    response={200: SpecPageOut, **error_responses(404, 409)},
    summary="Every spec with its status and next step",
)
def list_specs(request: HttpRequest, slug: str, page: Query[PageQuery]) -> Any:
    project = get_project_for_user(caller(request), slug)
    status_cache(project)  # 409 when the workspace cannot be used
    found = [spec_summary(detail) for detail in specs.project_details(project)]
    return page_of(found, page)


@router.get(
    "/{slug}/specs/{spec_id}",
    response={200: SpecDetailOut, **error_responses(404, 409)},
    summary="One spec: status, recommendation, tasks with their verification",
)
def get_spec(request: HttpRequest, slug: str, spec_id: str) -> Any:
    project = get_project_for_user(caller(request), slug)
    if not is_spec_id(spec_id):
        # Not even shaped like an id (e.g. "..", "x/../y"): it names no spec, so no lookup.
        raise Http404("No such spec.")
    status_cache(project)  # 409 when the workspace cannot be used
    detail, _ = specs.project_spec(project, spec_id)
    report = detail.verification
    return {
        "spec_id": detail.status.spec_id,
        "status": detail.status.as_dict(),
        "recommendation": recommend(detail.status).as_dict(),
        "tasks": [task.as_dict() for task in report.tasks],
        "issues": [{"line": i.line, "severity": i.severity, "message": i.message} for i in report.issues],
        "usage": AgentUsage.objects.for_spec(project, detail.status.spec_id).totals(),
    }


def spec_summary(detail: SpecDetail) -> dict[str, Any]:
    return {**detail.status.as_dict(), "next": recommend(detail.status).as_dict()}


def _team_for_admin(request: HttpRequest, slug: str) -> Team:
    team = teams_of(caller(request)).filter(slug=slug).first()
    if team is None:
        raise Http404("No such team.")
    if not has_role(caller(request), team, Role.ADMIN):
        raise ApiError(403, f"Creating a project needs the admin role in {team.name}.")
    return team


# --- the workspace behind a project ----------------------------------------------------------


def project_workspace(project: Project) -> Workspace:
    """The project's workspace, checked as every door checks it (workflows.workspace_policy)."""
    return status_cache(project).workspace


def status_cache(project: Project) -> StatusCache:
    """The process-wide cache the pages use too (workflows.specs); 409 naming why when the
    workspace may not be used."""
    try:
        return specs.status_cache(project)
    except specs.SpecsUnavailable as exc:
        raise ApiError(
            409, f"The project's workspace cannot be used: {exc}", "workspace_unavailable"
        ) from None


# --- manual checks -----------------------------------------------------------------------------


class ManualCheckIn(StrictIn):
    note: str = Field("", max_length=2000, description="What was checked, and how.")


class ManualCheckWithdrawnOut(Schema):
    spec_id: str
    task_id: str
    task: dict[str, Any] = Field(..., description="The task's verification without the check.")


class ManualCheckOut(Schema):
    spec_id: str
    task_id: str
    checked_by: str | None
    checked_at: datetime
    note: str
    task: dict[str, Any] = Field(..., description="The task's verification with the check counted.")


def _manual_target(request: HttpRequest, slug: str, spec_id: str, task_id: str) -> Project:
    project = get_project_for_user(caller(request), slug)
    if not is_spec_id(spec_id) or not TASK_ID.fullmatch(task_id):
        raise Http404("No such spec or task.")
    status_cache(project)  # 409 when the workspace cannot be used
    return project


TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


@router.post(
    "/{slug}/specs/{spec_id}/tasks/{task_id}/manual-check",
    response={201: ManualCheckOut, **error_responses(403, 404, 409)},
    summary="Record that a person checked a task only a person can check (members and up)",
)
def record_manual_check(
    request: HttpRequest, slug: str, spec_id: str, task_id: str, payload: ManualCheckIn
) -> Any:
    project = _manual_target(request, slug, spec_id, task_id)
    check = manual_check_record(
        project=project,
        spec_id=spec_id,
        task_id=task_id,
        note=payload.note,
        by=caller(request),
        channel="api",
    )
    detail, _ = specs.project_spec(project, spec_id)
    task = next(t for t in detail.verification.tasks if t.id == task_id)
    return Status(
        201,
        {
            "spec_id": spec_id,
            "task_id": task_id,
            "checked_by": check.checked_by.get_username() if check.checked_by is not None else None,
            "checked_at": check.checked_at,
            "note": check.note,
            "task": task.as_dict(),
        },
    )


@router.delete(
    "/{slug}/specs/{spec_id}/tasks/{task_id}/manual-check",
    response={200: ManualCheckWithdrawnOut, **error_responses(403, 404, 409)},
    summary="Withdraw a task's manual check (members and up)",
)
def withdraw_manual_check(request: HttpRequest, slug: str, spec_id: str, task_id: str) -> Any:
    project = _manual_target(request, slug, spec_id, task_id)
    manual_check_withdraw(
        project=project, spec_id=spec_id, task_id=task_id, by=caller(request), channel="api"
    )
    detail, _ = specs.project_spec(project, spec_id)
    task = next((t for t in detail.verification.tasks if t.id == task_id), None)
    return {"spec_id": spec_id, "task_id": task_id, "task": task.as_dict() if task else {}}
