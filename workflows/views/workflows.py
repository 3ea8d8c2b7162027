"""Workflow templates: the list, one template with its versions, and saving a new version."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.models import AuditEntry, Role
from accounts.permissions import team_ids_with_role
from accounts.ratelimits import limit
from workflows.engine.definitions import TemplateInvalid
from workflows.graph import step_graph
from workflows.models import Step, WorkflowTemplate
from workflows.services.templates import template_save

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


def can_edit_templates(user: object) -> bool:
    """Templates are shared by every team: staff and team admins may change them."""
    return bool(getattr(user, "is_staff", False) or team_ids_with_role(user, Role.ADMIN))


@login_required
@limit("moderate", methods=("POST",))
@require_http_methods(["GET", "POST"])
def workflow_list(request: HttpRequest) -> HttpResponse:
    source, problems = EXAMPLE, []
    if request.method == "POST":
        if not can_edit_templates(request.user):
            raise PermissionDenied("Saving workflows needs the admin role in a team.")
        source = request.POST.get("source", "")
        try:
            version = template_save(
                source=source,
                content_type="application/yaml",
                created_by=request.user,
                channel=AuditEntry.Channel.WEB,
            )
        except TemplateInvalid as exc:
            problems = exc.problems
        else:
            messages.success(
                request,
                _("Saved %(name)s as version %(number)s.")
                % {"name": version.template.name, "number": version.number},
            )
            return redirect("workflow_detail", name=version.template.name)
    templates = WorkflowTemplate.objects.prefetch_related("versions")
    return render(
        request,
        "workflows/workflows.html",
        {
            "templates": templates,
            "source": source,
            "problems": problems,
            "can_edit": can_edit_templates(request.user),
        },
        status=422 if problems else 200,
    )


@login_required
@require_http_methods(["GET"])
def workflow_detail(request: HttpRequest, name: str) -> HttpResponse:
    template = get_object_or_404(WorkflowTemplate, name=name)
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
            "can_edit": can_edit_templates(request.user),
        },
    )
