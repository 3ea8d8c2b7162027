"""A web process stops on SIGTERM even while requests are running (smartspec.web)."""

from __future__ import annotations

import signal
import subprocess
import threading
import urllib.error
import urllib.request

import pytest

from tests.processes import start_daphne

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, databases="__all__")]


def test_sigterm_under_load_exits_instead_of_waiting_for_stranded_requests(team_users):
    web = start_daphne()
    stop = threading.Event()
    answered = []

    def hammer() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{web.port}/accounts/login/", timeout=5
                ) as page:
                    answered.append(page.status)
            except (urllib.error.URLError, OSError):
                pass

    clients = [threading.Thread(target=hammer, daemon=True) for _ in range(32)]
    for client in clients:
        client.start()
    try:
        while len(answered) < 50:  # requests are flowing, many in flight at any moment
            threading.Event().wait(0.05)
        web.process.send_signal(signal.SIGTERM)
        try:
            web.process.wait(timeout=20)  # plain daphne waits here for ever
        except subprocess.TimeoutExpired:
            web.kill()
            raise AssertionError("the web process did not stop on SIGTERM:\n" + web.log()[-2000:]) from None
    finally:
        stop.set()
    assert web.process.returncode == 0
    assert set(answered) == {200}
