"""Error pages: a clear message in the site's layout, never a traceback."""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.middleware import StaffOnly
from workflows.templatetags.workflow_tags import status_label


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


# The services say why they refused in English (the API answers with those words). A page
# shows the refusals it knows in the reader's language; any other message as it is.
_REFUSALS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"^Starting a workflow needs the member role\.$"),
        gettext_noop("Starting a workflow needs the member role."),
    ),
    (
        re.compile(r"^Name the spec to run it on, e\.g\. spec-core-001 or core-001\.$"),
        gettext_noop("Name the spec to run it on, e.g. spec-core-001 or core-001."),
    ),
    (
        re.compile(r"^Run (?P<run>\d+) is already (?P<status>\w+)\.$"),
        gettext_noop("Run %(run)s is already %(status)s."),
    ),
    (
        re.compile(r"^Only a failed run can be resumed; this one is (?P<status>\w+)\.$"),
        gettext_noop("Only a failed run can be resumed; this one is %(status)s."),
    ),
    (
        re.compile(r"^Only a failed or cancelled run can be retried; this one is (?P<status>\w+)\.$"),
        gettext_noop("Only a failed or cancelled run can be retried; this one is %(status)s."),
    ),
    (
        re.compile(r"^The project has no spec '(?P<spec>[^']+)'\.$"),
        gettext_noop("The project has no spec %(spec)s."),
    ),
    (
        re.compile(r"^No spec '(?P<spec>[^']+)' in this project\.$"),
        gettext_noop("There is no spec %(spec)s in this project."),
    ),
    (
        re.compile(r"^No workflow named '(?P<name>[^']+)'\.$"),
        gettext_noop("There is no workflow named %(name)s."),
    ),
    (
        re.compile(r"^The workflow '(?P<workflow>[^']+)' works on a spec: give a spec_id\.$"),
        gettext_noop("The workflow %(workflow)s works on a spec: name one."),
    ),
]


def refusal_text(exc: Exception) -> str:
    """A service's refusal in the reader's language when it is one of the known ones."""
    message = str(exc)
    for pattern, template in _REFUSALS:
        match = pattern.match(message)
        if match:
            translated = _(template)
            if translated == template:  # English: exactly what the API says
                return message
            values = {k: status_label(v) if k == "status" else v for k, v in match.groupdict().items()}
            return translated % values if values else translated
    return message
