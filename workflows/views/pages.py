from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from workflows.selectors import get_project_for_user, projects_visible_to


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    team = request.team  # type: ignore[attr-defined]
    projects = projects_visible_to(request.user).filter(team=team) if team else []
    return render(request, "workflows/dashboard.html", {"projects": projects})


@login_required
@require_GET
def project_detail(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug)
    return render(request, "workflows/project_detail.html", {"project": project})


@login_required
@require_GET
def spec_detail(request: HttpRequest, slug: str, spec_id: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug)
    return render(request, "workflows/project_detail.html", {"project": project})
