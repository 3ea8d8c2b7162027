"""Finding workflow templates: the reads that pages, API, command box, autopilot button and
admin share, so whose template is visible or runnable is written once.

They sit among the services, not in workflows/selectors.py, because each first makes sure
the built-in templates are installed (templates_builtin_ensure, one query once they are;
workflows.services.templates says why there and not at migrate).
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from accounts.permissions import teams_of
from workflows.models import Project, TemplateVersion, WorkflowTemplate
from workflows.services.templates import templates_builtin_ensure


def templates_visible_to(user: User | AnonymousUser) -> QuerySet[WorkflowTemplate]:
    """Built-in and shared templates, and those of the user's teams (staff see all)."""
    templates_builtin_ensure()
    if user.is_authenticated and user.is_staff:
        return WorkflowTemplate.objects.all()
    return WorkflowTemplate.objects.filter(Q(team__isnull=True) | Q(team__in=teams_of(user)))


def templates_runnable_in(project: Project) -> QuerySet[WorkflowTemplate]:
    """The templates a project may run: its team's own and the shared ones
    (WorkflowTemplate.may_be_run_by says the same of one template)."""
    templates_builtin_ensure()
    return WorkflowTemplate.objects.filter(Q(team__isnull=True) | Q(team_id=project.team_id))


def template_version_for(project: Project, name: str) -> TemplateVersion | None:
    """The latest version of the template `name` that the project may run."""
    template = templates_runnable_in(project).filter(name=name).first()
    return template.latest if template else None
