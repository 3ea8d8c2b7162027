"""Dashboard, project and spec pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import AuditEntry, Role
from accounts.permissions import has_role
from accounts.ratelimits import limit
from workflows.charts import run_chart
from workflows.domain.layouts import find_spec, spec_documents
from workflows.domain.workspace import UnknownSpec
from workflows.forms import ReadingForm
from workflows.models import Run, Step, WorkerCluster
from workflows.models.workers import ALIVE_WITHIN
from workflows.rendering import render_markdown
from workflows.selectors import (
    gates_to_decide,
    get_project_for_user,
    projects_visible_to,
    runs_visible_to,
    template_version_for,
    templates_runnable_in,
)
from workflows.services.runs import RunError, run_start
from workflows.specs import SpecsUnavailable, project_index, project_spec, project_specs, status_cache

ACTIVE = (Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.WAITING)


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    team = request.team  # type: ignore[attr-defined]
    projects = list(projects_visible_to(request.user).filter(team=team)) if team else []
    runs = runs_visible_to(request.user).filter(project__team=team) if team else Run.objects.none()
    recent_specs = []
    for project in projects:
        try:
            rows = project_specs(project)
        except SpecsUnavailable:
            continue
        recent_specs += [(project, row) for row in rows if not row.next.done][:5]
    alive = WorkerCluster.objects.filter(last_seen__gte=timezone.now() - ALIVE_WITHIN)
    context = {
        "projects": projects,
        "active_runs": runs.filter(status__in=ACTIVE)[:20],
        "recent_runs": runs.exclude(status__in=ACTIVE)[:10],
        "my_approvals": gates_to_decide(request.user)[:10],
        "recent_specs": recent_specs[:12],
        "workers": sum(c.workers for c in alive),
        "clusters": len(alive),
        "queue_depth": Step.objects.filter(status=Step.Status.QUEUED).count(),
    }
    return render(request, "workflows/dashboard.html", context)


@login_required
@require_GET
def project_detail(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug)
    error, index = "", None
    try:
        rows = project_specs(project)
        index = project_index(project)
    except SpecsUnavailable as exc:
        rows, error = [], str(exc)
    can_admin = has_role(request.user, project.team_id, Role.ADMIN)
    runs = list(project.runs.select_related("started_by")[:30])
    context = {
        "project": project,
        "rows": rows,
        "index": index,
        "reading_form": ReadingForm.for_project(project) if can_admin else None,
        "workspace_error": error,
        "runs": runs[:15],
        "chart": run_chart(runs),
        "can_run": has_role(request.user, project.team_id, Role.MEMBER),
    }
    return render(request, "workflows/project_detail.html", context)


@login_required
@require_GET
def spec_detail(request: HttpRequest, slug: str, spec_id: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug)
    try:
        detail, recommendation = project_spec(project, spec_id)
    except (UnknownSpec, SpecsUnavailable) as exc:
        return render(
            request, "error.html", {"status": 404, "title": _("Not found"), "message": str(exc)}, status=404
        )
    workspace = status_cache(project).workspace
    documents = []
    location = find_spec(workspace, spec_id)
    for rel in spec_documents(workspace, location):
        read = workspace.read_text(rel)
        if read.text is not None:
            documents.append((rel.removeprefix(f"{detail.status.path}/"), render_markdown(read.text)))
    context = {
        "project": project,
        "status": detail.status,
        "location": location,
        "verification": detail.verification,
        "next": recommendation,
        "documents": documents,
        "runs": project.runs.filter(spec_id=spec_id)[:20],
        "can_run": has_role(request.user, project.team_id, Role.MEMBER),
        "workflows": templates_runnable_in(project).order_by("name"),
    }
    return render(request, "workflows/spec_detail.html", context)


@login_required
@require_POST
@limit("moderate")
def run_create(request: HttpRequest, slug: str) -> HttpResponse:
    """The "Run autopilot" buttons: start a workflow on a spec from a page."""
    project = get_project_for_user(request.user, slug, role=Role.MEMBER)
    name = request.POST.get("workflow", "autopilot")
    spec_id = request.POST.get("spec_id", "")
    version = template_version_for(project, name)
    if version is None:
        messages.error(request, _("There is no workflow named %(name)s.") % {"name": repr(name)})
        return redirect(project.get_absolute_url())
    try:
        run = run_start(
            project=project,
            version=version,
            spec_id=spec_id,
            started_by=request.user,
            channel=AuditEntry.Channel.WEB,
        )
    except (RunError, ValueError) as exc:
        messages.error(request, str(exc))
        return redirect(project.get_absolute_url())
    messages.success(
        request,
        _("Started %(workflow)s on %(target)s.") % {"workflow": name, "target": spec_id or project.name},
    )
    return redirect(run.get_absolute_url())
