from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from workflows.engine.executors.shell import die_with_parent
from workflows.management.commands.seed_demo import DEMO_USERS

STOP_GRACE_SECONDS = 10
# A crashed part is started again after RESTART_FIRST_DELAY, doubling up to RESTART_MAX_DELAY
# while it keeps dying within HEALTHY_AFTER_SECONDS of its start.
RESTART_FIRST_DELAY = 1.0
RESTART_MAX_DELAY = 30.0
HEALTHY_AFTER_SECONDS = 60.0


class Command(BaseCommand):
    help = "Serve the app: daphne (HTTP and websockets) and the django-q2 workers, together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-workers", action="store_true", help="Serve web pages only.")
        parser.add_argument(
            "--web-processes",
            type=int,
            default=settings.WEB_PROCESSES,
            help="daphne processes sharing the port (one uses one CPU for Python); "
            "default: the WEB_PROCESSES setting.",
        )

    def handle(
        self, *args: Any, host: str, port: int, no_workers: bool, web_processes: int, **options: Any
    ) -> None:
        if web_processes < 1:
            self.stderr.write("--web-processes must be 1 or more.")
            raise SystemExit(2)
        try:
            listeners = _listen(host, port, web_processes)
        except OSError as exc:
            reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be opened ({exc.strerror})"
            self.stderr.write(f"Port {port} on {host} {reason}; set PORT to another port.")
            raise SystemExit(2) from None
        # Each daphne process accepts connections from its own socket on the port. The
        # sockets stay open here too, so a restarted web process takes over its socket and
        # the connections the kernel queued on it meanwhile.
        children = [
            _Child("web", _web_command(listener.fileno()), (listener.fileno(),)) for listener in listeners
        ]
        if not no_workers:
            qcluster = [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"]
            children.append(_Child("workers", qcluster, ()))
        for child in children:
            child.start()
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self._wait_until_serving(host, port, children[0])
        self._banner(host, port)
        # Only Ctrl-C or SIGTERM stops everything: a part that dies is started again, after
        # a pause that doubles while it keeps dying young (a crash loop costs no CPU).
        while not stopping:
            for child in children:
                child.watch(self.stderr.write)
            time.sleep(0.2)
        self._stop(children)
        for listener in listeners:
            listener.close()
        raise SystemExit(0)

    def _wait_until_serving(self, host: str, port: int, web: _Child) -> None:
        """The socket takes connections at once; wait until daphne answers them."""
        deadline = time.monotonic() + 30
        url = f"http://{_url_host(host)}:{port}/healthz"
        while time.monotonic() < deadline and web.running:
            try:
                with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own address
                    return
            except OSError:
                time.sleep(0.1)

    def _banner(self, host: str, port: int) -> None:
        users = ", ".join(DEMO_USERS)
        self.stdout.write(
            f"\nSmartSpec Autopilot is running at http://{host}:{port}/\n"
            f"Demo sign-ins: {users} (password: the DEMO_PASSWORD setting, "
            f"default smartspec-demo)\nPress Ctrl-C to stop.\n"
        )
        self.stdout.flush()

    def _stop(self, children: list[_Child]) -> None:
        processes = [c.process for c in children if c.process is not None and c.process.poll() is None]
        for process in processes:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.stdout.write("Stopped.")


class _Child:
    """One part of the app (a web process or the worker cluster), restarted when it dies.

    Each runs in its own session: Ctrl-C reaches `serve` only, which then stops each child
    through its main process (signalling a django-q2 cluster's whole group at once can
    leave it blocked on a lock a dying child held). If `serve` is killed outright, the
    kernel stops the children too (die_with_parent)."""

    def __init__(self, name: str, command: list[str], fds: tuple[int, ...]) -> None:
        self.name, self.command, self.fds = name, command, fds
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.delay = RESTART_FIRST_DELAY / 2  # the first death waits RESTART_FIRST_DELAY
        self.restart_at: float | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command,
            cwd=settings.BASE_DIR,
            env=dict(os.environ),
            start_new_session=True,
            preexec_fn=die_with_parent,
            pass_fds=self.fds,
        )
        self.started = time.monotonic()
        self.restart_at = None

    def watch(self, log: Callable[[str], Any]) -> None:
        """Notice a death (log it, schedule the restart) or carry out a restart that is due."""
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                log(f"Restarting the {self.name} process.")
                self.start()
            return
        if self.process is None or self.process.poll() is None:
            return
        # What the dead process left behind in its session (django-q2's worker processes
        # outlive their cluster's main process) goes too, before a new one starts.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        lived = now - self.started
        # One that ran a while before dying starts over from the short pause.
        young = lived <= HEALTHY_AFTER_SECONDS
        self.delay = min(self.delay * 2, RESTART_MAX_DELAY) if young else RESTART_FIRST_DELAY
        self.restart_at = now + self.delay
        log(
            f"The {self.name} process stopped (exit {self.process.returncode}) after {lived:.0f} s; "
            f"restarting it in {self.delay:.0f} s."
        )


def _listen(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on one port, one for each web process.

    The kernel spreads new connections over them (SO_REUSEPORT), so every process gets its
    share even when many clients connect at once; from one shared socket the first process
    to wake would take them all. A first bind without SO_REUSEPORT checks that nothing else
    holds the port, so a second server started on the same port fails as it should."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    listeners: list[socket.socket] = []
    try:
        for _ in range(count):
            listener = socket.socket(family, socket.SOCK_STREAM)
            listeners.append(listener)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            listener.bind((host, port))
            listener.listen(1024)
            listener.set_inheritable(True)
    except OSError:
        for listener in listeners:
            listener.close()
        raise
    return listeners


def _web_command(fd: int) -> list[str]:
    return [sys.executable, "-m", "smartspec.web", "--fd", str(fd), "smartspec.asgi:application"]


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - an address to call, not to bind
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
