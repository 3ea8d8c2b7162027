"""Who is calling: a bearer token (scripts, CI) or the browser session (with CSRF).

A token request becomes `request.user` and carries `request.auth_via_token = True`, which
is what `accounts.ratelimits.is_exempt` reads to let staff service tokens through unlimited.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from accounts.services import token_authenticate
from workflows.api.errors import CsrfFailed

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


class BearerToken(HttpBearer):
    """`Authorization: Bearer ssp_…`; an unknown or revoked token is no authentication."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_authenticate(token.strip())
        if user is None:
            return None
        request.user = user
        request.auth_via_token = True  # type: ignore[attr-defined]
        return user


class SessionWithCsrf(APIKeyCookie):
    """The signed-in browser session; unsafe methods must pass Django's CSRF check.

    ninja's own SessionAuth checks CSRF before knowing whether anyone is signed in, which
    answers 403 where 401 is right; this checks CSRF only for an authenticated session.
    """

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest) -> Any:
        if not request.user.is_authenticated:
            return None
        exempt = getattr(request, "_ninja_csrf_exempt", False)
        if request.method not in SAFE_METHODS and not exempt and check_csrf(request):
            raise CsrfFailed()
        request.auth_via_token = False  # type: ignore[attr-defined]
        return request.user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return request.user if request.user.is_authenticated else None


def api_auth() -> list[Any]:
    return [BearerToken(), SessionWithCsrf()]


def caller(request: HttpRequest) -> User:
    """The authenticated user of an API request (every operation requires one)."""
    return cast(User, request.user)
