"""Benchmark the REST API over real HTTP: daphne on loopback, 50 concurrent clients.

    .venv/bin/python bench/bench_api.py                       # SQLite (WAL), no Redis
    .venv/bin/python bench/bench_api.py --postgres postgres://root@127.0.0.1:5432/root \
        --redis redis://127.0.0.1:6379/0                      # PostgreSQL + Redis

Sets up a throwaway installation (its own SMARTSPEC_DATA_DIR in a temporary directory, a
fresh SQLite file or a fresh PostgreSQL database created next to the one named, migrated
with `manage.py migrate_all`), seeds a team, a member with an API token, a project, a
one-step `noop` workflow and a run, starts daphne with rate limits off
(RATELIMIT_ENABLE=0), and drives `GET /api/v1/runs/{id}` and `POST /api/v1/runs` with
httpx's async client. Prints requests/s and p50/p95/p99 latency per scenario. No worker
cluster runs: POST /runs queues the step and answers; nothing executes it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from scratch import free_port, throwaway_postgres

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

SEED = """
import json
from django.contrib.auth.models import User
from accounts.models import Membership, Team
from accounts.services import token_create
from workflows.models import Project
from workflows.services.runs import run_start
from workflows.services.templates import template_save
from pathlib import Path
from django.conf import settings

team = Team.objects.create(slug="bench", name="Bench")
user = User.objects.create_user("bench-member", "bench@example.com", "bench-password-1")
Membership.objects.create(user=user, team=team, role="member")
_, token = token_create(user=user, name="bench", channel="system")
workspace = Path(settings.DATA_DIR) / "workspaces" / "bench"
workspace.mkdir(parents=True)
project = Project.objects.create(team=team, slug="bench", name="Bench", workspace=str(workspace))
version = template_save(data={"name": "bench-noop", "steps": [{"id": "only", "uses": "noop"}]},
                        created_by=None, channel="system")
run = run_start(project=project, version=version, started_by=user, channel="system")
print("SEED " + json.dumps({"token": token, "run": run.pk}))
"""


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0

    def line(self) -> str:
        lat = sorted(self.latencies_ms)
        q = statistics.quantiles(lat, n=100, method="inclusive")
        cpu_ms = self.server_cpu_s * 1000 / self.requests
        client_ms = self.client_cpu_s * 1000 / self.requests
        return (
            f"{self.name:<18} {self.requests:>6} req  {self.errors:>4} errors  "
            f"{self.requests / self.seconds:>7.1f} req/s  p50 {q[49]:6.1f} ms  "
            f"p95 {q[94]:6.1f} ms  p99 {q[98]:6.1f} ms  CPU/req server {cpu_ms:4.1f} ms, "
            f"load generator {client_ms:4.1f} ms"
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc): the server's own cost, whatever
    else the machine is doing."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@contextmanager
def serve(env: dict[str, str], log: Path, web_processes: int) -> Iterator[tuple[str, list[int]]]:
    """`manage.py serve --no-workers`: the product's own way to run daphne processes."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [PYTHON, str(ROOT / "manage.py"), "serve", "--no-workers", "--port", str(port)]
            + ["--web-processes", str(web_processes)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while b"Press Ctrl-C" not in log.read_bytes():
            if process.poll() is not None:
                raise RuntimeError(f"serve exited:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not answer within 60 s")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", children(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def drive(
    name: str,
    total: int,
    clients: int,
    request: Callable[[httpx.AsyncClient], Awaitable[int]],
    client: httpx.AsyncClient,
) -> Result:
    latencies: list[float] = []
    errors = 0
    statuses: dict[int, int] = {}
    remaining = total

    async def worker() -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            began = time.perf_counter()
            try:
                status = await request(client)
            except httpx.HTTPError:
                status = 0
            latencies.append((time.perf_counter() - began) * 1000)
            if status >= 400 or status == 0:
                errors += 1
                statuses[status] = statuses.get(status, 0) + 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    if statuses:
        print(f"  {name}: failed requests by status (0: no answer): {statuses}", flush=True)
    return Result(name, total, errors, time.perf_counter() - began, latencies)


async def paced(
    name: str,
    seconds: float,
    clients: int,
    interval: float,
    request: Callable[[httpx.AsyncClient], Awaitable[int]],
    client: httpx.AsyncClient,
) -> Result:
    """Each client sends a request every `interval` seconds (as a script polling its run
    does), so the server sees clients / interval requests a second and latency is its own
    answer time, not a queue the clients built."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def poller(offset: float) -> None:
        nonlocal errors
        await asyncio.sleep(offset)
        due = time.perf_counter()
        while due < stop:
            began = time.perf_counter()
            try:
                status = await request(client)
            except httpx.HTTPError:
                status = 0
            latencies.append((time.perf_counter() - began) * 1000)
            errors += status >= 400 or status == 0
            due += interval
            await asyncio.sleep(max(0.0, due - time.perf_counter()))

    began = time.perf_counter()
    await asyncio.gather(*(poller(interval * i / clients) for i in range(clients)))
    return Result(name, len(latencies), errors, time.perf_counter() - began, latencies)


async def benchmark(
    base_url: str, servers: list[int], token: str, run_id: int, args: argparse.Namespace
) -> None:
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base_url + "/api/v1", headers=headers, limits=limits, timeout=60
    ) as client:

        async def get_run(c: httpx.AsyncClient) -> int:
            return (await c.get(f"/runs/{run_id}")).status_code

        async def post_run(c: httpx.AsyncClient) -> int:
            response = await c.post("/runs", json={"project": "bench", "workflow": "bench-noop"})
            return response.status_code

        def server_cpu() -> float:
            return sum(cpu_seconds(pid) for pid in servers)

        await drive("warm-up", 200, args.clients, get_run, client)
        scenarios: list[tuple[str, Callable[[], Awaitable[Result]]]] = [
            (
                "GET /runs/{id}",
                lambda: paced(
                    f"GET, every {args.interval:g}s",
                    args.seconds,
                    args.clients,
                    args.interval,
                    get_run,
                    client,
                ),
            ),
            ("GET /runs/{id}", lambda: drive("GET, flat out", args.reads, args.clients, get_run, client)),
            ("POST /runs", lambda: drive("POST, flat out", args.writes, args.clients, post_run, client)),
        ]
        for _, scenario in scenarios:
            cpu_before, client_before = server_cpu(), time.process_time()
            result = await scenario()
            result.server_cpu_s = server_cpu() - cpu_before
            result.client_cpu_s = time.process_time() - client_before
            print(" ", result.line(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="benchmark PostgreSQL (server URL)")
    parser.add_argument("--redis", metavar="URL", help="REDIS_URL for the PostgreSQL run")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--reads", type=int, default=3000, help="GET /runs/{id} requests")
    parser.add_argument("--writes", type=int, default=1000, help="POST /runs requests")
    parser.add_argument("--interval", type=float, default=0.5, help="paced: seconds between GETs")
    parser.add_argument("--seconds", type=float, default=20, help="paced: how long")
    parser.add_argument(
        "--web-processes", type=int, default=1, help="daphne processes (serve --web-processes)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    env = {
        **os.environ,
        "SMARTSPEC_DATA_DIR": str(tmp),
        "RATELIMIT_ENABLE": "0",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    try:
        if args.postgres:
            with throwaway_postgres(args.postgres, "bench_api") as url:
                env["DATABASE_URL"] = url
                if args.redis:
                    env["REDIS_URL"] = args.redis
                run(env, tmp, args, f"PostgreSQL{' + Redis' if args.redis else ''}")
        else:
            env["DATABASE_URL"] = f"sqlite:///{tmp / 'db.sqlite3'}"
            run(env, tmp, args, "SQLite (WAL)")
    finally:
        if args.keep:
            print(f"data directory kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(env: dict[str, str], tmp: Path, args: argparse.Namespace, label: str) -> None:
    manage(env, "migrate_all")
    seed = next(line for line in manage(env, "shell", "-c", SEED).splitlines() if line.startswith("SEED "))
    data = json.loads(seed[5:])
    print(
        f"{label}: {args.clients} clients, {args.web_processes} daphne process(es), Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs",
        flush=True,
    )
    with serve(env, tmp / "serve.log", args.web_processes) as (base_url, servers):
        asyncio.run(benchmark(base_url, servers, data["token"], data["run"], args))


if __name__ == "__main__":
    main()
