"""Reads that several callers share, so object permissions are written once."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import Role
from accounts.permissions import has_role, team_ids_with_role, teams_of
from workflows.models import ApprovalEntry, ApprovalGate, Project, Run

AnyUser = User | AnonymousUser


def projects_visible_to(user: AnyUser) -> QuerySet[Project]:
    return Project.objects.filter(team__in=teams_of(user)).select_related("team")


def get_project_for_user(user: AnyUser, slug: str, *, role: str = Role.VIEWER) -> Project:
    """The project if the user is in its team; 404 otherwise, so outsiders learn nothing.

    With `role`, a team member whose role is lower gets PermissionDenied (403).
    """
    project = projects_visible_to(user).filter(slug=slug).first()
    if project is None:
        raise Http404("No such project.")
    require_role(user, project, role)
    return project


def require_role(user: AnyUser, project: Project, role: str) -> None:
    from django.core.exceptions import PermissionDenied

    if not has_role(user, project.team_id, role):
        raise PermissionDenied(f"This needs the {role} role in team {project.team.name}.")


def runs_visible_to(user: AnyUser) -> QuerySet[Run]:
    return Run.objects.filter(project__team__in=teams_of(user)).select_related(
        "project", "project__team", "started_by", "template_version"
    )


def get_run_for_user(user: AnyUser, run_id: int, *, role: str = Role.VIEWER) -> Run:
    run = runs_visible_to(user).filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run.")
    require_role(user, run.project, role)
    return run


def gates_visible_to(user: AnyUser) -> QuerySet[ApprovalGate]:
    return ApprovalGate.objects.filter(run__project__team__in=teams_of(user)).select_related(
        "run", "run__project", "run__started_by", "step"
    )


def gates_to_decide(user: AnyUser) -> QuerySet[ApprovalGate]:
    """Pending gates on which the user is invited, may still decide (an active member or
    higher in the run's team: services.approvals.decide_refusal), and has not voted yet."""
    if not user.is_authenticated or not user.is_active:
        return ApprovalGate.objects.none()
    return (
        ApprovalGate.objects.filter(
            run__project__team__in=team_ids_with_role(user, Role.MEMBER),
        )
        .select_related("run", "run__project", "run__started_by", "step")
        .filter(status=ApprovalGate.Status.PENDING, invitations__user=user)
        .exclude(Q(entries__user=user) & Q(entries__kind__in=ApprovalEntry.VERDICTS))
        .distinct()
    )


def get_gate_for_user(user: AnyUser, gate_id: int) -> ApprovalGate:
    gate = gates_visible_to(user).filter(pk=gate_id).first()
    if gate is None:
        raise Http404("No such approval.")
    return gate
