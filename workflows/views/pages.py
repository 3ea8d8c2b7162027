"""Dashboard, project and spec pages."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import AuditEntry, Role
from accounts.permissions import AuthenticatedHttpRequest, has_role
from accounts.ratelimits import limit
from workflows.charts import run_chart
from workflows.domain.layouts import spec_documents
from workflows.domain.workspace import UnknownSpec
from workflows.engine import git_changes, git_runs
from workflows.engine.budget import budget_reached
from workflows.forms import GitForm, ReadingForm, SpendingForm
from workflows.models import AgentUsage, Project, Run, Step, WorkerCluster
from workflows.rendering import render_markdown
from workflows.selectors import (
    gates_to_decide,
    get_project_for_user,
    projects_visible_to,
    runs_visible_to,
)
from workflows.services.errors import RunError
from workflows.services.runs import run_start, workflow_version
from workflows.services.template_lookups import templates_runnable_in
from workflows.specs import SpecsUnavailable, project_overview, project_spec, project_specs, status_cache
from workflows.views.errors import refusal_text
from workflows.workspace_policy import WorkspaceNotAllowed, project_workspace_dir

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
    alive = WorkerCluster.objects.alive()
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
        rows, index = project_overview(project)
    except SpecsUnavailable as exc:
        rows, error = [], refusal_text(exc)
    can_admin = has_role(request.user, project.team_id, Role.ADMIN)
    runs = list(project.runs.select_related("started_by")[:30])
    context = {
        "project": project,
        "rows": rows,
        "index": index,
        "reading_form": ReadingForm.for_project(project) if can_admin else None,
        "spending_form": SpendingForm(instance=project) if can_admin else None,
        **_usage_of(project),
        "git_form": GitForm(instance=project) if can_admin else None,
        "workspace_error": error,
        "runs": runs[:15],
        "chart": run_chart(runs),
        "can_run": has_role(request.user, project.team_id, Role.MEMBER),
        "git_mode": None if error else _git_mode(project),
        "uncommitted": None if error else git_changes.uncommitted(project),
    }
    return render(request, "workflows/project_detail.html", context)


def _usage_of(project: Project) -> dict[str, object]:
    """What the project's agent steps used this month and in all, against its budgets."""
    usage = AgentUsage.objects.for_project(project)
    month = usage.this_month().totals()
    budget = project.budget_per_month
    return {
        "usage_month": month,
        "usage_all": usage.totals(),
        "month_spent": budget_reached(month["cost"], budget),
    }


def _git_mode(project: Project) -> str | None:
    """Whether runs of the project work on git branches (workflows.engine.git_runs.git_mode)."""
    try:
        return git_runs.git_mode(project_workspace_dir(project))
    except WorkspaceNotAllowed:
        return None


_HEADING = re.compile(r"<(/?)h([1-6])\b", re.IGNORECASE)


def _demote_headings(html: str) -> str:
    """A document's headings sit under its section's <h2>: its # becomes <h3>, and so on,
    so the page keeps exactly one <h1>."""
    return _HEADING.sub(lambda m: f"<{m.group(1)}h{min(6, int(m.group(2)) + 2)}", html)


@login_required
@require_GET
def spec_detail(request: HttpRequest, slug: str, spec_id: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug)
    try:
        detail, recommendation = project_spec(project, spec_id)
    except (UnknownSpec, SpecsUnavailable) as exc:
        return render(
            request,
            "error.html",
            {"status": 404, "title": _("Not found"), "message": refusal_text(exc)},
            status=404,
        )
    workspace = status_cache(project).workspace
    documents = []
    for rel in spec_documents(workspace, detail.location):
        read = workspace.read_text(rel)
        if read.text is not None:
            html = _demote_headings(render_markdown(read.text))
            documents.append((rel.removeprefix(f"{detail.status.path}/"), html))
    context = {
        "project": project,
        "status": detail.status,
        "location": detail.location,
        "verification": detail.verification,
        "next": recommendation,
        "documents": documents,
        "runs": project.runs.filter(spec_id=spec_id)[:20],
        "usage": AgentUsage.objects.for_spec(project, spec_id).totals(),
        "can_run": has_role(request.user, project.team_id, Role.MEMBER),
        "workflows": templates_runnable_in(project).order_by("name"),
        # What a run of this spec would not see: it starts from the last commit.
        "uncommitted": git_changes.uncommitted(project, [detail.status.path]),
    }
    return render(request, "workflows/spec_detail.html", context)


@login_required
@require_POST
@limit("moderate")
def run_create(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """The "Run autopilot" buttons: start a workflow on a spec from a page."""
    project = get_project_for_user(request.user, slug, role=Role.MEMBER)
    name = request.POST.get("workflow", "autopilot")
    spec_id = request.POST.get("spec_id", "")
    try:
        version = workflow_version(project, name)
        run = run_start(
            project=project,
            version=version,
            spec_id=spec_id,
            params=_start_params(request),
            started_by=request.user,
            channel=AuditEntry.Channel.WEB,
            allow_concurrent=request.POST.get("allow_concurrent") in ("1", "on", "true"),
        )
    except (RunError, ValueError) as exc:
        active = getattr(exc, "run_id", None)
        if active is not None:
            # One run of a workflow on a spec at a time: show the one that is going.
            messages.info(
                request,
                _("Run #%(run)s of %(workflow)s on %(spec)s is still going: here it is.")
                % {"run": active, "workflow": name, "spec": spec_id},
            )
            return redirect("run_detail", run_id=active)
        messages.error(request, refusal_text(exc))
        return redirect(project.get_absolute_url())
    messages.success(
        request,
        _("Started %(workflow)s on %(target)s.") % {"workflow": name, "target": spec_id or project.name},
    )
    return redirect(run.get_absolute_url())


def _start_params(request: HttpRequest) -> dict[str, object]:
    """The autopilot's settings from the start form (templates/workflows/_start_autopilot.html):
    mode and turn limit, checked by the engine (autopilot.settings_of) like the API's."""
    params: dict[str, object] = {}
    mode = request.POST.get("mode", "").strip()
    if mode:
        params["mode"] = mode
    limit_text = request.POST.get("max_iterations", "").strip()
    if limit_text:
        try:
            params["max_iterations"] = int(limit_text)
        except ValueError:
            params["max_iterations"] = limit_text  # refused with its reason by run_start
    return params
