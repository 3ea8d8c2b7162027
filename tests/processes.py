"""Real processes for tests: daphne and django-q2 clusters using the test database."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connections

from workflows.models import Run

ROOT = Path(__file__).resolve().parent.parent


PORTS_PER_WORKER = 2000  # each pytest-xdist worker draws from its own slice of 20000-31999


def free_port() -> int:
    """A free port for a server a test starts. Each xdist worker draws from its own slice
    below the kernel's ephemeral range (32768-), so neither another worker's server nor any
    client's own port can take it between this check and the server's bind."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    start = 20000 + (worker % 6) * PORTS_PER_WORKER
    for _ in range(200):
        port = random.randrange(start, start + PORTS_PER_WORKER)  # noqa: S311 (not a secret)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {start} and {start + PORTS_PER_WORKER}")


def fd_targets(pid: int) -> list[str]:
    """Where the process's open file descriptors point (Linux /proc)."""
    targets = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            targets.append(os.readlink(fd))
        except OSError:  # closed while we looked
            continue
    return targets


def tcp_connections(pid: int, *, local_port: int | None = None, remote_port: int | None = None) -> int:
    """The process's established TCP connections with this local or remote port."""
    mine = {target[8:-1] for target in fd_targets(pid) if target.startswith("socket:[")}
    found = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
            established = fields[3] == "01"
            if (
                established
                and fields[9] in mine
                and local_port in (None, local)
                and remote_port in (None, remote)
            ):
                found += 1
    return found


def _database_url(alias: str) -> str:
    conf = connections[alias].settings_dict
    if conf["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{conf['NAME']}"
    user = conf.get("USER") or ""
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{conf.get('HOST') or '127.0.0.1'}:{conf.get('PORT') or 5432}/{conf['NAME']}"


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a server process that shares the test run's databases."""
    env = dict(os.environ)
    env["DATABASE_URL"] = _database_url("default")
    if "queue" in settings.DATABASES:
        env["SMARTSPEC_QUEUE_DB"] = str(connections["queue"].settings_dict["NAME"])
    env["SMARTSPEC_DATA_DIR"] = str(settings.DATA_DIR)
    env["SECRET_KEY"] = settings.SECRET_KEY
    env["RATELIMIT_ENABLE"] = "0"
    env["PYTHONUNBUFFERED"] = "1"
    env["PASSWORD_HASHERS"] = ",".join(settings.PASSWORD_HASHERS)
    env.update(extra)
    return env


@dataclass
class RunningProcess:
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the main process only, as an operator would, and let it stop its children.

        (Signalling a django-q2 cluster's whole group at once can leave its main process
        blocked on a lock a dying child held.)
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean-up code runs."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _spawn(args: list[str], name: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    log_dir = Path(settings.DATA_DIR) / "test-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}-{time.time_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return process, log_path


def start_daphne(port: int | None = None, **env: str) -> RunningProcess:
    port = port or free_port()
    args = [
        sys.executable,
        "-m",
        "smartspec.web",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "smartspec.asgi:application",
    ]
    # As `manage.py serve` runs its web processes (keeping each thread's connection).
    process, log_path = _spawn(args, "daphne", subprocess_env(**env))
    running = RunningProcess(process, log_path, port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited early:\n{running.log()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return running
        time.sleep(0.1)
    running.kill()
    raise RuntimeError(f"daphne did not listen within 30 s:\n{running.log()}")


def wait_until_finished(run: Run, *, timeout: float) -> Run:
    """The run once a worker process has finished it (polled from the database)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_finished:
            return run
        time.sleep(0.2)
    steps = dict(run.steps.values_list("key", "status"))
    raise AssertionError(f"run {run.pk} did not finish ({run.status}): {steps}")


def start_cluster(**env: str) -> RunningProcess:
    args = [sys.executable, str(ROOT / "manage.py"), "qcluster"]
    process, log_path = _spawn(args, "qcluster", subprocess_env(**env))
    return RunningProcess(process, log_path)
