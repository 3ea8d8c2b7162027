"""A web process as `manage.py serve` runs it (smartspec.web, smartspec.http): requests run
on a fixed pool of threads that keep their database connections, a streamed file arrives
whole, sync code may still call into asyncio, and an idle process stops at once."""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.processes import RunningProcess, fd_targets, start_daphne, tcp_connections

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, databases="__all__")]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - our own server
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _connections_held(web: RunningProcess) -> int:
    """Connections the web process holds to the test database right now."""
    if connection.vendor == "postgresql":
        port = int(connection.settings_dict.get("PORT") or 5432)
        return tcp_connections(web.process.pid, remote_port=port)
    database = str(Path(connection.settings_dict["NAME"]).resolve())
    return fd_targets(web.process.pid).count(database)


def test_request_threads_keep_their_database_connections_between_requests(team_users):
    web = start_daphne(WEB_THREADS="2")
    try:
        assert _connections_held(web) == 0
        statuses = set()
        for _ in range(20):
            status, body = _get(f"{web.url}/readyz")
            statuses.add(status)
            checks = json.loads(body)["checks"]
            # /readyz runs a query on each database, and a channel-layer round trip
            # through asyncio from the request's thread.
            assert checks["database:default"]["ok"], checks
            assert checks["channel_layer"]["ok"], checks
        held = _connections_held(web)
    finally:
        web.stop()
    assert statuses <= {200, 503}  # 503: no worker cluster runs in this test
    assert 1 <= held <= 2  # kept, and never more than one per request thread


def test_a_large_static_file_arrives_whole(db):
    web = start_daphne()
    try:
        status, body = _get(f"{web.url}/static/ninja/swagger-ui-bundle.js")
    finally:
        web.stop()
    assert status == 200
    assert body == (Path(settings.STATIC_ROOT) / "ninja/swagger-ui-bundle.js").read_bytes()


def test_an_idle_web_process_stops_at_once_on_sigterm(db):
    web = start_daphne()
    assert _get(f"{web.url}/healthz")[0] == 200
    web.process.send_signal(signal.SIGTERM)
    web.process.wait(timeout=20)
    assert web.process.returncode == 0
    # Idle request threads end with the process: nothing is left to wait for.
    assert "unfinished" not in web.log()


def test_the_private_apis_the_web_process_relies_on_are_still_there():
    """smartspec/http.py and smartspec/shutdown.py lean on three things no public API gives
    (their reasons and the figures behind them: docs/benchmarks.md, "One thread hop per
    request"). If an upgrade of Django or Python removes one, this fails before users do."""
    import inspect
    import threading

    from django.core.handlers.asgi import ASGIHandler, get_script_prefix
    from django.http import HttpResponseBase

    # shutdown.install: hooks that run before Python joins worker threads at exit.
    assert callable(getattr(threading, "_register_atexit", None))
    # ThreadedASGIHandler reuses the parts of Django's ASGI handler around the sync chain.
    for name, params in {
        "read_body": ["self", "receive"],
        "create_request": ["self", "scope", "body_file"],
        "send_response": ["self", "response", "send"],
    }.items():
        assert list(inspect.signature(getattr(ASGIHandler, name)).parameters) == params, name
    assert "chunk_size" in vars(ASGIHandler) and callable(get_script_prefix)
    # HttpResponseBase.close sends request_finished with the handler set on the response
    # (that is what makes a pool thread tidy its database connection).
    assert "sender=self._handler_class" in inspect.getsource(HttpResponseBase.close)
