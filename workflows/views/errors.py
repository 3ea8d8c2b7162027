"""Error pages: a clear message in the site's layout, never a traceback."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.middleware import StaffOnly
from workflows.templatetags.workflow_tags import in_language


def _render(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": title.lower().replace(" ", "_")}, status=status)
    try:
        body: str = render_to_string(
            "error.html", {"status": status, "title": _(title), "message": _(message)}, request=request
        )
    except Exception:  # the layout itself may be what failed: fall back to plain text
        body = f"{status} {title}: {message}"
    return HttpResponse(body, status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _render(
        request, 404, gettext_noop("Not found"), gettext_noop("There is nothing here, or you may not see it.")
    )


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, StaffOnly):
        return _render(
            request,
            403,
            gettext_noop("For staff only"),
            gettext_noop(
                "This page is for staff users of SmartSpec Autopilot. Ask an operator if you need it."
            ),
        )
    return _render(
        request, 403, gettext_noop("Forbidden"), gettext_noop("Your role in this team does not allow that.")
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _render(
        request, 400, gettext_noop("Bad request"), gettext_noop("The request could not be understood.")
    )


def server_error(request: HttpRequest) -> HttpResponse:
    return _render(
        request,
        500,
        gettext_noop("Server error"),
        gettext_noop("Something went wrong on our side; it has been logged."),
    )


def refusal_text(exc: Exception) -> str:
    """Why a service refused, in the reader's language. Services raise their reasons as
    sentences that remember their template (`workflows.domain.texts.Text`): the API answers
    the English, a page the translation."""
    reason = exc.args[0] if exc.args else str(exc)
    return str(in_language(reason))
