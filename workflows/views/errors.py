"""Error pages: a clear message in the site's layout, never a traceback."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string


def _render(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": title.lower().replace(" ", "_")}, status=status)
    try:
        body = render_to_string(
            "error.html", {"status": status, "title": title, "message": message}, request=request
        )
    except Exception:  # the layout itself may be what failed: fall back to plain text
        body = f"{status} {title}: {message}"
    return HttpResponse(body, status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _render(request, 404, "Not found", "There is nothing here, or you may not see it.")


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _render(request, 403, "Forbidden", "Your role in this team does not allow that.")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _render(request, 400, "Bad request", "The request could not be understood.")


def server_error(request: HttpRequest) -> HttpResponse:
    return _render(
        request, 500, "Server error", "Something went wrong on our side; it has been logged."
    )
