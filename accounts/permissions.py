"""Who may see and do what. Every page and endpoint asks these, so the rules live once."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import Membership, Role, Team

AnyUser = User | AnonymousUser


class AuthenticatedHttpRequest(HttpRequest):
    """The request a @login_required view receives: to the type checker, its user is a User."""

    user: User


def teams_of(user: AnyUser) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user)


def role_in(user: AnyUser, team: Team | int) -> Role | None:
    """The user's role in the team, or None for someone outside it."""
    if not user.is_authenticated:
        return None
    team_id = team if isinstance(team, int) else team.pk
    role = Membership.objects.filter(user=user, team_id=team_id).values_list("role", flat=True).first()
    return Role(role) if role else None


def has_role(user: AnyUser, team: Team | int, role: str) -> bool:
    actual = role_in(user, team)
    return actual is not None and actual.covers(role)


def team_ids_with_role(user: AnyUser, role: str) -> list[int]:
    if not user.is_authenticated:
        return []
    allowed = Role.at_least(role)
    return list(Membership.objects.filter(user=user, role__in=allowed).values_list("team_id", flat=True))
