from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from workflows.selectors import gates_to_decide


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The count of approvals waiting for the signed-in user, shown in the navigation."""
    if not request.user.is_authenticated:
        return {}
    return {"approvals_waiting": gates_to_decide(request.user).count()}
