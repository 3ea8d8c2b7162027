"""Workflow templates: the list, one template with its versions, and saving a new version."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.models import AuditEntry, Role, Team
from accounts.permissions import AuthenticatedHttpRequest, team_ids_with_role
from accounts.ratelimits import limit
from workflows.domain.template_validation import Problem, TemplateInvalid
from workflows.graph import step_graph
from workflows.models import Step
from workflows.services.template_lookups import templates_visible_to
from workflows.services.templates import TemplateForbidden, template_save
from workflows.views.errors import refusal_text

EXAMPLE = """name: my-workflow
max_parallel: 4
steps:
  - id: verify
    uses: verify_tasks
  - id: review
    uses: approval
    needs: [verify]
    with: {approvers: ["role:approver"], quorum: 1, timeout: 24h, on_timeout: reject}
  - id: sync
    uses: sync_tasks
    needs: [review]
"""


def admin_teams(user: Any) -> QuerySet[Team]:
    """The teams a template saved here may belong to (whose it is decides who changes it)."""
    return Team.objects.filter(pk__in=team_ids_with_role(user, Role.ADMIN))


@login_required
@limit("moderate", methods=("POST",))
@require_http_methods(["GET", "POST"])
def workflow_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    source, problems, status = EXAMPLE, [], 200
    teams = admin_teams(request.user)
    if request.method == "POST":
        source = request.POST.get("source", "")
        chosen = request.POST.get("team", "")
        team = teams.filter(slug=chosen).first() if chosen else None
        try:
            if chosen and team is None:
                raise TemplateForbidden(_("You are not an admin of the team %(team)s.") % {"team": chosen})
            version = template_save(
                source=source,
                content_type="application/yaml",
                team=team,
                created_by=request.user,
                channel=AuditEntry.Channel.WEB,
            )
        except TemplateInvalid as exc:
            problems, status = exc.problems, 422
        except TemplateForbidden as exc:
            problems, status = [Problem(refusal_text(exc))], 403
        else:
            messages.success(
                request,
                _("Saved %(name)s as version %(number)s.")
                % {"name": version.template.name, "number": version.number},
            )
            return redirect("workflow_detail", name=version.template.name)
    templates = templates_visible_to(request.user).select_related("team").prefetch_related("versions")
    return render(
        request,
        "workflows/workflows.html",
        {
            "templates": templates,
            "source": source,
            "problems": problems,
            "teams": teams,
            "current_team": getattr(request, "team", None),
            "can_edit": request.user.is_staff or teams.exists(),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET"])
def workflow_detail(request: HttpRequest, name: str) -> HttpResponse:
    template = get_object_or_404(templates_visible_to(request.user), name=name)
    versions = list(template.versions.select_related("created_by"))
    latest = versions[0] if versions else None
    steps = [
        Step(
            key=s["id"],
            needs=list(s.get("needs", [])),
            kind=s["uses"],
            status="pending",
            for_each=s.get("for_each"),
        )
        for s in (latest.steps if latest else [])
    ]
    return render(
        request,
        "workflows/workflow_detail.html",
        {
            "template": template,
            "versions": versions,
            "latest": latest,
            "graph": step_graph(steps),
            "can_edit": template.may_be_changed_by(request.user),
        },
    )
