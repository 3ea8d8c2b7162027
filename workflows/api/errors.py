"""One error shape for the whole API: `{"detail": str, "code": str}` (+ `errors` per field).

Every exception an endpoint can raise maps to a status and a code here, and a last handler
turns anything unexpected into a logged 500 in the same shape: a script never gets an HTML
page or a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from workflows.api.schemas import ErrorOut
from workflows.domain.template_validation import TemplateInvalid
from workflows.domain.workspace import ScopeError, UnknownSpec, WorkspaceError
from workflows.services.approvals import ApprovalError
from workflows.services.errors import RunError
from workflows.services.manual_checks import ManualCheckError
from workflows.specs import SpecsUnavailable
from workflows.workspace_policy import WorkspaceNotAllowed

logger = logging.getLogger("workflows.api")

# Status → code for errors raised with a bare status (ninja's HttpError).
CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "server_error",
    502: "upstream",
    503: "busy",
}
# The codes the services use, as HTTP statuses.
# "upstream": a service outside (a git remote, GitHub) refused or could not be reached.
SERVICE_STATUS = {
    "forbidden": 403,
    "conflict": 409,
    "merge_refused": 409,  # approving a review gate would need a forced merge
    "not_found": 404,
    "invalid": 422,
    "upstream": 502,
}

# Every operation documents these; endpoints add 403/404/409 where they can happen.
COMMON_ERRORS = (400, 401, 422, 429)


class ApiError(Exception):
    """Raised by endpoints for an answer that is neither a service nor a selector error."""

    def __init__(
        self,
        status: int,
        detail: str,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or CODES.get(status, "error")
        self.errors = errors


class CsrfFailed(Exception):
    """A session request that changes something came without a valid CSRF token."""


def error_responses(*statuses: int) -> dict[int, type[ErrorOut]]:
    """The `response=` entries of the errors an operation may answer with."""
    return {status: ErrorOut for status in (*COMMON_ERRORS, *statuses)}


def error_body(
    detail: str, code: str, errors: list[dict[str, Any]] | None = None, run_id: int | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail, "code": code}
    if errors is not None:
        body["errors"] = errors
    if run_id is not None:
        body["run_id"] = run_id
    return body


def install(api: NinjaAPI) -> None:
    """Register a handler for every exception an endpoint may let through."""

    def answer(
        request: HttpRequest,
        status: int,
        detail: str,
        code: str,
        errors: list[dict[str, Any]] | None = None,
        run_id: int | None = None,
    ) -> HttpResponse:
        return api.create_response(request, error_body(detail, code, errors, run_id), status=status)

    def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return answer(request, exc.status, exc.detail, exc.code, exc.errors)

    def on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
        # Selectors answer 404 for other teams' objects too, so the text stays generic.
        return answer(request, 404, str(exc) or "Not found.", "not_found")

    def on_unknown_spec(request: HttpRequest, exc: UnknownSpec) -> HttpResponse:
        return answer(request, 404, f"No spec {exc.spec_id!r} in this project.", "not_found")

    def on_permission_denied(request: HttpRequest, exc: Exception) -> HttpResponse:
        return answer(request, 403, str(exc) or "Your role does not allow that.", "forbidden")

    def on_csrf(request: HttpRequest, exc: Exception) -> HttpResponse:
        detail = "CSRF check failed: send the X-CSRFToken header, or use a bearer token."
        return answer(request, 403, detail, "csrf_failed")

    def on_authentication(request: HttpRequest, exc: Exception) -> HttpResponse:
        response = answer(
            request, 401, "Send 'Authorization: Bearer <token>' or sign in.", "not_authenticated"
        )
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response

    def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        wait = max(1, int(exc.wait or 1))
        # ninja sets Retry-After on this response as well; it is the same number.
        response = answer(request, 429, f"Too many requests; try again in {wait} s.", "rate_limited")
        response["Retry-After"] = str(wait)
        return response

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        status = exc.status_code
        return answer(request, status, str(exc), CODES.get(status, "error"))

    def on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = [_field_error(e) for e in exc.errors]
        return answer(request, 422, "The request has invalid fields.", "invalid", errors)

    def on_run_error(request: HttpRequest, exc: RunError) -> HttpResponse:
        errors: list[dict[str, Any]] | None = None
        if exc.field:
            errors = [{"field": exc.field, "message": str(exc)}]
            if exc.run_id is not None:
                errors[0]["run_id"] = exc.run_id
        status = SERVICE_STATUS.get(exc.code, 422)
        return answer(request, status, str(exc), exc.code, errors, exc.run_id)

    def on_manual_check_error(request: HttpRequest, exc: ManualCheckError) -> HttpResponse:
        errors = [{"field": exc.field, "message": str(exc)}] if exc.field else None
        return answer(request, SERVICE_STATUS.get(exc.code, 422), str(exc), exc.code, errors)

    def on_template_invalid(request: HttpRequest, exc: TemplateInvalid) -> HttpResponse:
        errors = [dict(p.as_dict()) for p in exc.problems]
        # The first problems in the detail too: a script that prints only `detail` says why.
        shown = "; ".join(str(p) for p in exc.problems[:3]) + ("; …" if len(errors) > 3 else "")
        detail = f"The workflow template has {len(errors)} problem(s): {shown}"
        return answer(request, 422, detail, "invalid_template", errors)

    def on_approval_error(request: HttpRequest, exc: ApprovalError) -> HttpResponse:
        errors = [{"field": k, "message": v} for k, v in exc.errors.items()] or None
        return answer(request, SERVICE_STATUS.get(exc.code, 422), str(exc), exc.code, errors)

    def on_model_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        # A model validator refused a value a service was asked to store (e.g. a specs root).
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        errors = [{"field": f, "message": m} for f, messages in fields.items() for m in messages]
        detail = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
        return answer(request, 422, f"Invalid value: {detail}", "invalid", errors)

    def on_workspace_not_allowed(request: HttpRequest, exc: WorkspaceNotAllowed) -> HttpResponse:
        errors = [{"field": "workspace", "message": str(exc)}]
        return answer(request, 422, str(exc), "workspace_not_allowed", errors)

    def on_workspace_error(request: HttpRequest, exc: WorkspaceError) -> HttpResponse:
        detail = "The project's workspace cannot be read; ask a team admin to check it."
        logger.warning("workspace unavailable: %s", exc)
        return answer(request, 409, detail, "workspace_unavailable")

    def on_specs_unavailable(request: HttpRequest, exc: SpecsUnavailable) -> HttpResponse:
        return on_workspace_error(request, WorkspaceError(str(exc)))

    def on_scope_error(request: HttpRequest, exc: ScopeError) -> HttpResponse:
        return answer(request, 422, f"Path refused: {exc.reason}.", "invalid_scope")

    def on_integrity(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
        # Two writers raced on a unique name; the loser is told, nothing half-done is kept.
        logger.info("integrity error answered as 409: %s", exc)
        return answer(request, 409, "That conflicts with an existing object.", "conflict")

    def on_database_error(request: HttpRequest, exc: OperationalError) -> HttpResponse:
        if "locked" not in str(exc):
            return on_anything(request, exc)
        # SQLite's write lock stayed taken past the busy timeout (workers writing a lot):
        # nothing was done, and trying again shortly is the right move.
        logger.warning("database busy in %s %s: %s", request.method, request.path, exc)
        response = answer(request, 503, "The database is busy; try again.", "busy")
        response["Retry-After"] = "1"
        return response

    def on_too_large(request: HttpRequest, exc: Exception) -> HttpResponse:
        return answer(request, 413, "The request body is too large.", "too_large")

    def on_too_deep(request: HttpRequest, exc: Exception) -> HttpResponse:
        return answer(request, 400, "The request body is nested too deeply.", "bad_request")

    def on_suspicious(request: HttpRequest, exc: Exception) -> HttpResponse:
        return answer(request, 400, "The request could not be understood.", "bad_request")

    def on_anything(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        detail = "Something went wrong on our side; it has been logged."
        return answer(request, 500, detail, "server_error")

    handlers: list[tuple[type[Exception], Any]] = [
        (ApiError, on_api_error),
        (Http404, on_not_found),
        (UnknownSpec, on_unknown_spec),
        (PermissionDenied, on_permission_denied),
        (CsrfFailed, on_csrf),
        (AuthenticationError, on_authentication),
        (Throttled, on_throttled),
        (HttpError, on_http_error),
        (ValidationError, on_validation),
        (RunError, on_run_error),
        (ManualCheckError, on_manual_check_error),
        (TemplateInvalid, on_template_invalid),
        (ApprovalError, on_approval_error),
        (DjangoValidationError, on_model_validation),
        (WorkspaceNotAllowed, on_workspace_not_allowed),
        (WorkspaceError, on_workspace_error),
        (SpecsUnavailable, on_specs_unavailable),
        (ScopeError, on_scope_error),
        (IntegrityError, on_integrity),
        (OperationalError, on_database_error),
        (RequestDataTooBig, on_too_large),
        (SuspiciousOperation, on_suspicious),
        (RecursionError, on_too_deep),
        (Exception, on_anything),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)


# ninja puts where a value came from, and the endpoint's parameter name, before the field.
_LOC_PREFIXES = ("body", "query", "path", "header", "payload", "filters", "page")


def _field_error(error: dict[str, Any]) -> dict[str, Any]:
    """A pydantic error as {field, message}, the field dotted as the client sent it."""
    loc = [str(part) for part in error.get("loc", ())]
    while len(loc) > 1 and loc[0] in _LOC_PREFIXES:
        loc.pop(0)
    return {"field": ".".join(loc) or None, "message": str(error.get("msg", "invalid"))}
