"""`manage.py serve` (what `make run` ends with): daphne and the workers together."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.processes import ROOT, free_port, subprocess_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, databases="__all__")]


def test_it_serves_pages_and_workers_and_stops_cleanly_on_ctrl_c(team_users):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        banner = ""
        while "Press Ctrl-C" not in banner and time.monotonic() < deadline:
            banner += process.stdout.readline()
        assert f"running at http://127.0.0.1:{port}/" in banner
        assert "demo-member" in banner
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=10) as page:
                assert page.status == 200
        except urllib.error.HTTPError as exc:
            process.send_signal(signal.SIGINT)
            raise AssertionError(process.communicate(timeout=30)[0]) from exc
        from workflows.models import WorkerCluster

        deadline = time.monotonic() + 30
        while not WorkerCluster.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert WorkerCluster.objects.exists(), "the workers did not report in"
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert output.rstrip().endswith("Stopped.")
    assert not WorkerCluster.objects.exists()  # the cluster signed off


def test_a_port_in_use_gets_a_clear_message(db):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=ROOT,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"Port {port} on 127.0.0.1 is in use" in result.stderr
    assert "Traceback" not in result.stderr
