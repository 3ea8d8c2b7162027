"""Rate-limit tiers (PRODUCT.md, "Security and limits") on top of django-ratelimit.

strict    login, password reset, approval links: per IP
moderate  writes: per user (per IP when signed out)
relaxed   reads: per user (per IP when signed out)
unlimited staff service tokens
Limits come from settings.RATELIMITS; an exceeded limit answers 429 with Retry-After.

Every door that checks a password (`password_door`: /accounts/login/, /admin/login/, the
password change form) counts against one strict counter per IP, so guesses cannot be
spread over several doors to multiply the limit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.template.loader import render_to_string
from django_ratelimit.core import get_usage

TIERS = ("strict", "moderate", "relaxed")
CREDENTIALS_GROUP = "credentials"


def _user_or_ip(group: str, request: HttpRequest) -> str:
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


def _ip(group: str, request: HttpRequest) -> str:
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


def is_exempt(request: HttpRequest) -> bool:
    """Staff service tokens are not limited: CI pipelines of the team itself."""
    return bool(getattr(request, "auth_via_token", False) and request.user.is_staff)


def check(request: HttpRequest, tier: str, group: str) -> int | None:
    """Count this request against the tier; seconds to wait when over the limit, else None."""
    if tier not in TIERS:
        raise ValueError(f"unknown rate-limit tier {tier!r}")
    if is_exempt(request):
        return None
    key = _ip if tier == "strict" else _user_or_ip
    usage = get_usage(
        request, group=f"{tier}:{group}", key=key, rate=settings.RATELIMITS[tier], increment=True
    )
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, int(usage["time_left"]))


def too_many_requests(request: HttpRequest, retry_after: int) -> HttpResponse:
    wants_json = request.path.startswith("/api/") or "json" in request.headers.get("Accept", "")
    if wants_json:
        response: HttpResponse = JsonResponse(
            {"detail": f"Too many requests; try again in {retry_after} s.", "code": "rate_limited"},
            status=429,
        )
    else:
        body = render_to_string("429.html", {"retry_after": retry_after}, request=request)
        response = HttpResponse(body, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def limit(
    tier: str, *, methods: tuple[str, ...] | None = None, group: str | None = None
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Decorate a view with a tier; `methods` limits which HTTP methods count.

    Views with the same `group` share one counter; by default each view has its own.
    """

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        name = group or _view_name(view)

        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if methods is None or request.method in methods:
                retry_after = check(request, tier, name)
                if retry_after is not None:
                    return too_many_requests(request, retry_after)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def password_door(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A view whose POST checks a password: counted on the shared strict credentials counter."""
    return limit("strict", methods=("POST",), group=CREDENTIALS_GROUP)(view)


def _view_name(view: Callable[..., Any]) -> str:
    # Every as_view() function is named View.as_view.<locals>.view: name its class instead,
    # or all class-based views would share one counter.
    named = getattr(view, "view_class", view)
    return f"{named.__module__}.{named.__qualname__}"
