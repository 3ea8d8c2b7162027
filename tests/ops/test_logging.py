from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest
import structlog

from tests.ops.conftest import finished_run
from tests.processes import ROOT
from workflows.engine import worker
from workflows.engine.executors import StepResult
from workflows.observability.logging import formatter

pytestmark = pytest.mark.django_db(databases="__all__")


def parsed(stream_lines: list[dict[str, object]], event: str) -> list[dict[str, object]]:
    return [line for line in stream_lines if line["event"] == event]


def test_a_sane_request_id_is_echoed(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.42")
    assert response["X-Request-ID"] == "lb-7f3a.42"


@pytest.mark.parametrize("bad", ["two words", "x" * 129, "new\nline", "<script>", ""])
def test_an_insane_request_id_is_replaced(client, bad):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=bad)
    assert response["X-Request-ID"] != bad
    assert len(response["X-Request-ID"]) == 32


def test_the_request_line_is_json_with_the_agreed_keys(client, team_users):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("json"))
    logging.getLogger().addHandler(handler)
    try:
        client.force_login(team_users.member)
        client.get("/ops/performance/", HTTP_X_REQUEST_ID="trace-123")
        client.get("/accounts/login/")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    requests = parsed(lines, "request")
    first, second = requests[0], requests[-1]
    assert {"timestamp", "level", "logger", "event"} <= set(first)
    assert first["request_id"] == "trace-123" and first["user"] == "member-user"
    assert first["status"] == 403 and first["path"] == "/ops/performance/"
    assert first["logger"] == "smartspec.request" and first["level"] == "info"
    # Django's own line, written while the view's PermissionDenied is handled, carries the
    # same id and user.
    forbidden = [line for line in lines if line["logger"] == "django.request"]
    assert forbidden and forbidden[0]["request_id"] == "trace-123"
    assert forbidden[0]["user"] == "member-user"
    assert second["request_id"] != "trace-123" and second["path"] == "/accounts/login/"
    assert structlog.contextvars.get_contextvars() == {}


def test_a_worker_binds_run_and_step_to_its_lines(eproject, monkeypatch):
    def executor(context):
        structlog.get_logger("tests.executor").warning("inside the step", note="hi")
        logging.getLogger("tests.stdlib").warning("a standard library line")
        return StepResult.ok()

    monkeypatch.setattr(worker, "executor_for", lambda kind: executor)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("json"))
    logging.getLogger().addHandler(handler)
    try:
        run = finished_run(eproject, name="ops-logged", steps=1)
    finally:
        logging.getLogger().removeHandler(handler)
    step = run.steps.get()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    for event in ("step.executing", "inside the step", "a standard library line"):
        line = parsed(lines, event)[0]
        assert (line["run_id"], line["step_id"]) == (run.pk, step.pk), line
    assert parsed(lines, "inside the step")[0]["note"] == "hi"
    assert structlog.contextvars.get_contextvars() == {}


def test_console_format_is_for_people():
    record = logging.LogRecord("tests", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    structlog.contextvars.bind_contextvars(request_id="abc")
    try:
        text = formatter("console").format(record)
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    assert "hello there" in text and "request_id=abc" in text
    assert not text.startswith("{")


def test_a_bad_log_format_fails_loudly():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "smartspec.settings", "LOG_FORMAT": "xml"},
    )
    assert result.returncode != 0
    assert "LOG_FORMAT='xml' is not one of: json, console" in result.stderr
