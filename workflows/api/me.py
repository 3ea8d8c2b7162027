"""GET /me: who is calling, in which teams, with which roles."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from accounts.models import Membership
from workflows.api.auth import caller
from workflows.api.errors import error_responses
from workflows.api.schemas import MeOut

router = Router(tags=["me"])


@router.get("", response={200: MeOut, **error_responses()}, summary="The caller")
def me(request: HttpRequest) -> dict[str, Any]:
    user = caller(request)
    memberships = Membership.objects.filter(user=user).select_related("team")
    return {
        "id": user.pk,
        "username": user.get_username(),
        "email": getattr(user, "email", ""),
        "is_staff": user.is_staff,
        "auth": "token" if getattr(request, "auth_via_token", False) else "session",
        "teams": [
            {"slug": m.team.slug, "name": m.team.name, "role": m.role}
            for m in memberships.order_by("team__name")
        ],
    }
