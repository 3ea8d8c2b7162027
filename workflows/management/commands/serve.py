from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
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

    def handle(self, *args: Any, host: str, port: int, no_workers: bool, **options: Any) -> None:
        if _port_in_use(host, port):
            self.stderr.write(f"Port {port} on {host} is in use; set PORT to another port.")
            raise SystemExit(2)
        web = [sys.executable, "-m", "daphne", "-b", host, "-p", str(port)]
        commands = [web + ["smartspec.asgi:application"]]
        if not no_workers:
            commands.append([sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"])
        # Each child in its own session: Ctrl-C reaches this command only, which then stops
        # each child through its main process (signalling a django-q2 cluster's whole
        # group at once can leave it blocked on a lock a dying child held).
        # If this command is killed outright, the kernel stops the children too.
        processes = [
            subprocess.Popen(cmd, cwd=settings.BASE_DIR, start_new_session=True, preexec_fn=die_with_parent)
            for cmd in commands
        ]
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self._wait_until_listening(host, port, processes[0])
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

    def _wait_until_listening(self, host: str, port: int, web: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and web.poll() is None:
            if _port_in_use(host, port):
                return
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


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0
