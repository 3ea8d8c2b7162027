from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from workflows.engine.executors.shell import die_with_parent
from workflows.management.commands.seed_demo import DEMO_USERS

STOP_GRACE_SECONDS = 10


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
        # Each daphne process accepts connections from its own socket on the port.
        children = [
            (_web_command(listener.fileno()), dict(os.environ), (listener.fileno(),))
            for listener in listeners
        ]
        if not no_workers:
            qcluster = [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"]
            children.append((qcluster, dict(os.environ), ()))
        # Each child in its own session: Ctrl-C reaches this command only, which then stops
        # each child through its main process (signalling a django-q2 cluster's whole
        # group at once can leave it blocked on a lock a dying child held).
        # If this command is killed outright, the kernel stops the children too.
        processes = [
            subprocess.Popen(
                cmd,
                cwd=settings.BASE_DIR,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent,
                pass_fds=fds,
            )
            for cmd, env, fds in children
        ]
        for listener in listeners:
            listener.close()
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self._wait_until_serving(host, port, processes[0])
        self._banner(host, port)
        exit_code = 0
        while not stopping:
            for process in processes:
                if process.poll() is not None:
                    self.stderr.write(f"{process.args[2]} stopped (exit {process.returncode}).")
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.2)
        self._stop(processes)
        raise SystemExit(exit_code)

    def _wait_until_serving(self, host: str, port: int, web: subprocess.Popen[bytes]) -> None:
        """The socket takes connections at once; wait until daphne answers them."""
        deadline = time.monotonic() + 30
        url = f"http://{_url_host(host)}:{port}/healthz"
        while time.monotonic() < deadline and web.poll() is None:
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

    def _stop(self, processes: list[subprocess.Popen[bytes]]) -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.stdout.write("Stopped.")


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
