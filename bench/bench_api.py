"""Benchmark the REST API over real HTTP: daphne on loopback, 50 concurrent clients.

    .venv/bin/python bench/bench_api.py                       # SQLite (WAL), no Redis
    .venv/bin/python bench/bench_api.py --postgres postgres://root@127.0.0.1:5432/root \
        --redis redis://127.0.0.1:6379/0                      # PostgreSQL + Redis

Sets up a throwaway installation (its own SMARTSPEC_DATA_DIR in a temporary directory, a
fresh SQLite file or a fresh PostgreSQL database created next to the one named, migrated
with `manage.py migrate_all`), seeds a team, a member with an API token, a project, a
one-step `noop` workflow and a run, starts `manage.py serve --no-workers` with rate limits
off (RATELIMIT_ENABLE=0), and drives `GET /api/v1/runs/{id}` and `POST /api/v1/runs`:

- paced: each of the clients reads its run every `--interval` seconds (httpx's async
  client), as scripts that poll a run do;
- flat out: the clients send with no pause, for `--flat-seconds` each (wrk, `apt-get
  install wrk`: a Python client would spend more CPU per request than the server does,
  on the same cores).

Prints requests/s, p50/p95/p99 latency, and the CPU per request of the server processes
and of the load generator. No worker cluster runs: POST /runs queues the step and
answers; nothing executes it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
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
Request = Callable[[httpx.AsyncClient], Awaitable[int]]  # one request; answers its status

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
    quantiles_ms: tuple[float, float, float] | None = None  # p50, p95, p99 when measured elsewhere

    def line(self) -> str:
        if self.quantiles_ms is None:
            q = statistics.quantiles(sorted(self.latencies_ms), n=100, method="inclusive")
            p50, p95, p99 = q[49], q[94], q[98]
        else:
            p50, p95, p99 = self.quantiles_ms
        cpu_ms = self.server_cpu_s * 1000 / self.requests
        client_ms = self.client_cpu_s * 1000 / self.requests
        return (
            f"{self.name:<18} {self.requests:>6} req  {self.errors:>4} errors  "
            f"{self.requests / self.seconds:>7.1f} req/s  p50 {p50:6.1f} ms  "
            f"p95 {p95:6.1f} ms  p99 {p99:6.1f} ms  CPU/req server {cpu_ms:4.1f} ms, "
            f"load generator {client_ms:4.2f} ms"
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


async def timed(request: Request, client: httpx.AsyncClient) -> tuple[int, float]:
    """One request's status (0: no answer) and how long it took, in ms."""
    began = time.perf_counter()
    try:
        status = await request(client)
    except httpx.HTTPError:
        status = 0
    return status, (time.perf_counter() - began) * 1000


async def drive(
    name: str,
    total: int,
    clients: int,
    request: Request,
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
            status, took = await timed(request, client)
            latencies.append(took)
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
    request: Request,
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
            status, took = await timed(request, client)
            latencies.append(took)
            errors += status >= 400 or status == 0
            due += interval
            await asyncio.sleep(max(0.0, due - time.perf_counter()))

    began = time.perf_counter()
    await asyncio.gather(*(poller(interval * i / clients) for i in range(clients)))
    return Result(name, len(latencies), errors, time.perf_counter() - began, latencies)


# wrk calls done() once the run is over: requests, seconds, errors, p50, p95, p99 (ms).
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %f %d %f %f %f\\n", summary.requests, summary.duration / 1e6,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def wrk(name: str, url: str, token: str, seconds: float, clients: int, body: str | None = None) -> Result:
    """Flat out with wrk: `clients` connections, each sending its next request as soon as
    the last one is answered. Non-2xx/3xx answers and socket errors count as errors."""
    if shutil.which("wrk") is None:
        raise SystemExit("The flat-out scenarios need wrk: apt-get install wrk (or make bench).")
    lines = [f'wrk.headers["Authorization"] = "Bearer {token}"']
    if body is not None:
        lines += ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"']
        lines.append(f"wrk.body = {json.dumps(body)}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + WRK_REPORT)
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            ["wrk", "-t2", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "30s", "-s", script.name, url],
            capture_output=True,
            text=True,
            check=True,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        os.unlink(script.name)
    report = next(line for line in done.stdout.splitlines() if line.startswith("WRK ")).split()[1:]
    requests, seconds, errors, p50, p95, p99 = (float(value) for value in report)
    result = Result(name, int(requests), int(errors), seconds, [])
    result.quantiles_ms = (p50, p95, p99)
    result.client_cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return result


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

        def server_cpu() -> float:
            return sum(cpu_seconds(pid) for pid in servers)

        await drive("warm-up", 200, args.clients, get_run, client)
        run_url = f"{base_url}/api/v1/runs/{run_id}"
        post_body = json.dumps({"project": "bench", "workflow": "bench-noop"})
        scenarios: list[Callable[[], Awaitable[Result]]] = [
            lambda: paced(
                f"GET, every {args.interval:g}s", args.seconds, args.clients, args.interval, get_run, client
            ),
            lambda: asyncio.to_thread(wrk, "GET, flat out", run_url, token, args.flat_seconds, args.clients),
            lambda: asyncio.to_thread(
                wrk,
                "POST, flat out",
                f"{base_url}/api/v1/runs",
                token,
                args.flat_seconds,
                args.clients,
                post_body,
            ),
        ]
        for scenario in scenarios:
            cpu_before, client_before = server_cpu(), time.process_time()
            result = await scenario()
            result.server_cpu_s = server_cpu() - cpu_before
            if result.quantiles_ms is None:  # httpx ran here, in this process
                result.client_cpu_s = time.process_time() - client_before
            print(" ", result.line(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="benchmark PostgreSQL (server URL)")
    parser.add_argument("--redis", metavar="URL", help="REDIS_URL for the PostgreSQL run")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--flat-seconds", type=float, default=15, help="flat out: how long each")
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
