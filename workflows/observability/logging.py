"""Structured logs: one JSON object per line, from web and worker processes alike.

structlog renders its own loggers and the standard library's (Django, django-q2, the
engine) through one formatter, so every line has the same keys: timestamp, level, logger,
event, and whatever is bound for the work in hand (request_id and user in a web request,
run_id and step_id while a worker executes a step). `LOG_FORMAT=console` renders the same
lines as aligned key=value text for people.
"""

from __future__ import annotations

import logging
import logging.config
import re
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from contextvars import Token
from typing import Any

import structlog
from django.http import HttpRequest, HttpResponse
from structlog.typing import Processor

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming request id is echoed in a header and written to logs: accept only short
# plain tokens, so a client cannot inject line breaks or kilobytes into either.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=/-]{0,127}")
# Probes hit these every few seconds; their lines would drown everything else at INFO.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

log = structlog.get_logger("smartspec.request")
step_log = structlog.get_logger("workflows.engine.worker")


def _shared_processors() -> list[Processor]:
    """What every line gets, whether it came from structlog or the standard library."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def configure_structlog() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def formatter(fmt: str = "json") -> logging.Formatter:
    """The one formatter of settings.LOGGING: JSON lines, or console text for people."""
    renderer: Processor
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        final: list[Processor] = [renderer]
    else:
        final = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )


def configure(config: dict[str, Any]) -> None:
    """Django's LOGGING_CONFIG hook: structlog first, then the standard library."""
    configure_structlog()
    logging.config.dictConfig(config)


# --- Web requests --------------------------------------------------------------------------


def request_id_for(request: HttpRequest) -> str:
    """The caller's X-Request-ID when it is a sane token (a proxy or client tracing a
    request end to end); otherwise a new one."""
    incoming = request.headers.get(REQUEST_ID_HEADER, "").strip()
    if SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _username(request: HttpRequest) -> str | None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return str(user.get_username())
    return None


class RequestIdMiddleware:
    """Binds a request id (and the user, once known) to every log line of the request,
    writes one line per request, and answers the id in the X-Request-ID header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        started = time.perf_counter()
        # Bound and unbound by name, not by token: under ASGI the view runs in a copy of
        # this context, and tokens cannot be reset across contexts.
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = self.get_response(request)
            self._log(request, response, started)
        finally:
            structlog.contextvars.unbind_contextvars("request_id", "user")
        response[REQUEST_ID_HEADER] = request_id
        return response

    def process_view(self, request: HttpRequest, *args: Any) -> None:
        # Session users are known here; lines the view writes carry them.
        user = _username(request)
        if user is not None:
            structlog.contextvars.bind_contextvars(user=user)

    def _log(self, request: HttpRequest, response: HttpResponse, started: float) -> None:
        level = logging.INFO
        if response.status_code >= 500:
            level = logging.ERROR
        elif request.path in QUIET_PATHS and response.status_code < 400:
            level = logging.DEBUG
        fields: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        # Token callers become request.user only inside the API view: read it now.
        user = _username(request)
        if user is not None:
            fields["user"] = user
        log.log(level, "request", **fields)


# --- Worker steps --------------------------------------------------------------------------


def bind_step(step: Any) -> Mapping[str, Token[Any]]:
    """Bind run_id and step_id to the log lines written while `step` executes."""
    tokens = structlog.contextvars.bind_contextvars(run_id=step.run_id, step_id=step.pk)
    step_log.info("step.executing", key=step.key, kind=step.kind, attempt=step.attempt)
    return tokens


def unbind_step(tokens: Mapping[str, Token[Any]]) -> None:
    structlog.contextvars.reset_contextvars(**tokens)
