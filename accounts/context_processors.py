from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.models import Membership


def teams(request: HttpRequest) -> dict[str, Any]:
    if not request.user.is_authenticated:
        return {}
    memberships = Membership.objects.filter(user=request.user).select_related("team")
    team = getattr(request, "team", None)
    return {
        "memberships": memberships,
        "current_team": team if team else None,
    }
