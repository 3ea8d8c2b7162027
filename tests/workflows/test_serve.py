"""`manage.py serve` (what `make run` ends with): daphne and the workers together."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.processes import ROOT, free_port, subprocess_env, tcp_connections

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, databases="__all__")]


def _serve(*args: str, **env: str) -> tuple[subprocess.Popen[str], str]:
    """Start `manage.py serve` and read its output up to the banner; returns both."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", *args],
        cwd=ROOT,
        env=subprocess_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    banner = ""
    deadline = time.monotonic() + 60
    while "Press Ctrl-C" not in banner and time.monotonic() < deadline and process.poll() is None:
        banner += process.stdout.readline()
    return process, banner


def _serve_refused(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `manage.py serve` with arguments it must refuse; it exits at once."""
    return subprocess.run(
        [sys.executable, "manage.py", "serve", *args],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_serves_pages_and_workers_and_stops_cleanly_on_ctrl_c(team_users):
    port = free_port()
    process, banner = _serve("--port", str(port))
    try:
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
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve_refused("--port", str(port))
    assert result.returncode == 2
    assert f"Port {port} on 127.0.0.1 is in use" in result.stderr
    assert "Traceback" not in result.stderr


def _children(pid: int) -> dict[int, str]:
    """The command lines of a process's children by their pids, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def _web_pids(pid: int) -> dict[int, str]:
    return {child: cmdline for child, cmdline in _children(pid).items() if "smartspec.web" in cmdline}


def test_several_web_processes_share_the_port(team_users):
    port = free_port()
    process, _ = _serve("--port", str(port), "--web-processes", "2", "--no-workers")
    clients: list[socket.socket] = []
    try:
        webs = _web_pids(process.pid)
        assert len(webs) == 2 and all("--fd" in cmdline for cmdline in webs.values())
        for _ in range(20):  # the kernel hands connections to either process: all answer
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as page:
                assert page.status == 200
        # A burst of connections is spread over both processes (each has its own socket).
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            accepted = [tcp_connections(pid, local_port=port) for pid in webs]
            if sum(accepted) == len(clients):
                break
            time.sleep(0.1)
        assert sum(accepted) == len(clients) and min(accepted) > 0, accepted
        # Another server on the same port is refused, not handed a share of it.
        second = _serve_refused("--port", str(port), "--no-workers")
        assert second.returncode == 2 and f"Port {port} on 127.0.0.1 is in use" in second.stderr
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        for client in clients:
            client.close()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0 and output.rstrip().endswith("Stopped.")
    assert not _web_pids(process.pid)


def test_no_web_processes_is_refused_with_a_message(db):
    result = _serve_refused("--port", str(free_port()), "--web-processes", "0")
    assert result.returncode == 2
    assert "--web-processes must be 1 or more." in result.stderr and "Traceback" not in result.stderr


def _wait_for(check, seconds: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    return check()


def _in_group(pgid: int) -> list[int]:
    """The pids of live processes in process group `pgid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as page:
            return page.status
    except (urllib.error.URLError, OSError):
        return 0


def test_a_crashed_part_is_started_again_and_only_ctrl_c_stops_everything(team_users):
    port = free_port()
    process, _ = _serve("--port", str(port))
    try:
        children = _children(process.pid)
        workers = next(pid for pid, cmdline in children.items() if "qcluster" in cmdline)
        web = next(iter(_web_pids(process.pid)))
        # The worker cluster dies: the web process keeps serving, and the cluster comes back.
        os.kill(workers, signal.SIGKILL)
        new_workers = _wait_for(
            lambda: [p for p, c in _children(process.pid).items() if "qcluster" in c and p != workers]
        )
        assert new_workers, "the worker cluster was not started again"
        # Its worker processes, which outlive their cluster's main process, were stopped too.
        assert _wait_for(lambda: not _in_group(workers)), "the dead cluster's workers were left running"
        assert _healthz(port) == 200 and process.poll() is None
        # The web process dies: it is started again on the same port.
        os.kill(web, signal.SIGKILL)
        assert _wait_for(lambda: [p for p in _web_pids(process.pid) if p != web]), "no new web process"
        assert _wait_for(lambda: _healthz(port) == 200)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0 and output.rstrip().endswith("Stopped.")
    assert "The workers process stopped (exit -9)" in output and "Restarting the workers process." in output
    assert "The web process stopped (exit -9)" in output and "Restarting the web process." in output
    assert not _children(process.pid)


def test_several_web_processes_share_one_rate_limit(team_users):
    """Wrong passwords count once across processes: the 11th answers 429 whichever process
    the kernel hands it to (per-process counters would allow up to 10 per process)."""
    import http.cookiejar
    import re
    import urllib.parse

    from django.core.cache import caches

    caches["ratelimit"].clear()  # the file cache the server processes share, as this test does
    port = free_port()
    process, _ = _serve("--port", str(port), "--web-processes", "2", "--no-workers", RATELIMIT_ENABLE="1")
    try:
        statuses = []
        for _ in range(14):
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
            url = f"http://127.0.0.1:{port}/accounts/login/"
            form = opener.open(url, timeout=10).read().decode()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
            body = urllib.parse.urlencode(
                {"csrfmiddlewaretoken": token, "username": "x", "password": "wrong"}
            )
            request = urllib.request.Request(url, data=body.encode(), headers={"Referer": url})
            try:
                statuses.append(opener.open(request, timeout=10).status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert statuses[:10] == [200] * 10 and set(statuses[10:]) == {429}, statuses
