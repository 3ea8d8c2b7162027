"""Load and faults on loopback: users start runs over the REST API while the worker cluster
is SIGKILLed and restarted and daphne is restarted. Nothing may be lost or run twice.

    .venv/bin/python bench/load_fault.py                      # SQLite (WAL), ORM broker
    .venv/bin/python bench/load_fault.py --postgres postgres://root@127.0.0.1:5432/root \
        --redis redis://127.0.0.1:6379/0                     # PostgreSQL + Redis

A throwaway installation (its own SMARTSPEC_DATA_DIR in a temporary directory; with
--postgres a scratch database created beside the one named and dropped afterwards; with
--redis its own queue name and prefixes), migrated with `manage.py migrate_all`. It seeds
--users members with API tokens and a project whose workflow is four shell steps
(a → b, c → d) that each append one line per completed execution to executions.log in the
workspace. Each user starts runs with `POST /api/v1/runs` and polls `GET /api/v1/runs/{id}`
until the run finishes, for --seconds of load or --runs runs each, whichever ends first.
Meanwhile the worker cluster is SIGKILLed (its whole process group, step processes
included) and restarted, twice, and daphne is stopped and started again on the same port,
twice. Clients retry requests that found no server.

It prints runs started, completed, failed and lost (acknowledged with 201 but not finished
by the deadline: must be 0), duplicated step executions (more completed executions of a
step in executions.log than the attempts the engine made: must be 0), 5xx responses and
p50/p95 latencies, and exits with status 1 when anything was lost or duplicated.
Everything is bounded: at most users × runs runs, and a hard deadline of
--seconds + 60 s for the last run to finish.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from scratch import free_port, throwaway_postgres

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
POLL_SECONDS = 0.25
SETTLE_SECONDS = 60
# A web process gives running requests 3 s after SIGTERM (smartspec.shutdown); should it
# still run after this long, the script kills it, as a process manager would.
DAPHNE_GRACE_SECONDS = 5

STEP_SCRIPT = """
import os, sys, time
run, step, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
with open("started.log", "a") as log:
    log.write(f"{run} {step} {os.getpid()}\\n")
time.sleep(seconds)
with open("executions.log", "a") as log:  # one line per completed execution
    log.write(f"{run} {step}\\n")
"""

SEED = """
import json, sys
from pathlib import Path
from django.conf import settings
from django.contrib.auth.models import User
from accounts.models import Membership, Team
from accounts.services import token_create
from workflows.models import Project
from workflows.services.templates import template_save

args = json.loads(sys.argv[2])  # sys.argv[1] is this code
users, step_seconds = args["users"], args["step_seconds"]
team = Team.objects.create(slug="load", name="Load")
workspace = Path(settings.DATA_DIR) / "workspaces" / "load"
workspace.mkdir(parents=True)
(workspace / "step.py").write_text(args["script"])
Project.objects.create(team=team, slug="load", name="Load", workspace=str(workspace),
                       shell_allowlist=["python"])
def step(name, needs):
    return {"id": name, "uses": "shell", "needs": needs, "retries": 3,
            "with": {"command": f"python step.py ${{{{ run_id }}}} {name} {step_seconds}"}}
template_save(data={"name": "load-fault", "max_parallel": 2, "steps": [
    step("a", []), step("b", ["a"]), step("c", ["a"]), step("d", ["b", "c"])]},
    created_by=None, channel="system")
tokens = []
for i in range(users):
    user = User.objects.create_user(f"load-{i}", f"load-{i}@example.com", "load-password-1")
    Membership.objects.create(user=user, team=team, role="member")
    tokens.append(token_create(user=user, name="load", channel="system")[1])
print("SEED " + json.dumps({"tokens": tokens, "workspace": str(workspace)}))
"""

FINAL = """
import json
from workflows.models import Run, Step
runs = dict(Run.objects.values_list("pk", "status"))
steps = list(Step.objects.values_list("run_id", "key", "attempt", "status"))
print("FINAL " + json.dumps({"runs": runs, "steps": steps}))
"""


# --- Processes ----------------------------------------------------------------------------------


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {args[0]} failed:\n{done.stderr}")
    return done.stdout


def shell(env: dict[str, str], code: str, payload: object = None) -> dict[str, object]:
    done = subprocess.run(
        [PYTHON, "-c", "import django, sys; django.setup(); exec(sys.argv[1])", code, json.dumps(payload)],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "smartspec.settings"},
        capture_output=True,
        text=True,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(("SEED ", "FINAL "))]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"a setup script failed:\n{done.stderr}")
    return dict(json.loads(lines[-1].split(" ", 1)[1]))


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if self.port is not None:
            self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited:\n{self.log.read_text()[-2000:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise SystemExit(f"{self.name} did not listen within 30 s")

    def signal(self, sig: int, grace: float = 15) -> bool:
        """Send `sig` to the process group; SIGKILL it after `grace` seconds. True when it
        exited by itself."""
        if self.process is None or self.process.poll() is not None:
            return True
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=grace)
            return True
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            return False


# --- Load ------------------------------------------------------------------------------------------


@dataclass
class Tally:
    acknowledged: dict[int, float] = field(default_factory=dict)  # run id → when its 201 came
    finished: dict[int, tuple[str, float]] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"POST": [], "GET": []})
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    faults: list[str] = field(default_factory=list)


async def request(
    client: httpx.AsyncClient, tally: Tally, method: str, path: str, deadline: float, **kw: object
) -> httpx.Response | None:
    """One request, retried while no server answers (daphne restarting) until `deadline`."""
    while time.monotonic() < deadline:
        began = time.perf_counter()
        try:
            response = await client.request(method, path, **kw)  # type: ignore[arg-type]
        except httpx.TransportError:
            tally.connection_errors += 1
            await asyncio.sleep(0.2)
            continue
        tally.latencies[method].append((time.perf_counter() - began) * 1000)
        tally.statuses[response.status_code] += 1
        if response.status_code >= 500:
            await asyncio.sleep(0.2)
            continue
        return response
    return None


async def user(
    base_url: str, token: str, tally: Tally, runs: int, stop_starting: float, deadline: float
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url + "/api/v1", headers=headers, timeout=10) as client:
        for _ in range(runs):
            if time.monotonic() > stop_starting:
                return
            body = {"project": "load", "workflow": "load-fault"}
            response = await request(client, tally, "POST", "/runs", deadline, json=body)
            if response is None or response.status_code != 201:
                return
            run_id = response.json()["id"]
            tally.acknowledged[run_id] = time.monotonic()
            while time.monotonic() < deadline:
                await asyncio.sleep(POLL_SECONDS)
                answer = await request(client, tally, "GET", f"/runs/{run_id}", deadline)
                status = answer.json()["status"] if answer is not None else ""
                if status in ("succeeded", "failed", "cancelled"):
                    tally.finished[run_id] = (status, time.monotonic())
                    break


async def faults(cluster: Process, web: Process, tally: Tally, began: float, seconds: float) -> None:
    """Kill the cluster and restart daphne, twice, spread over the load."""
    plan = [
        (0.15, "kill cluster"),
        (0.30, "restart daphne"),
        (0.55, "kill cluster"),
        (0.70, "restart daphne"),
    ]
    for fraction, action in plan:
        await asyncio.sleep(max(0.0, began + fraction * seconds - time.monotonic()))
        at = time.monotonic() - began
        if action == "kill cluster":
            await asyncio.to_thread(cluster.signal, signal.SIGKILL)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(cluster.start)
            tally.faults.append(f"{at:5.1f} s  SIGKILL the worker cluster, restarted 1 s later")
        else:
            stopped = time.monotonic()
            clean = await asyncio.to_thread(web.signal, signal.SIGTERM, DAPHNE_GRACE_SECONDS)
            exited = time.monotonic()
            await asyncio.to_thread(web.start)
            how = (
                f"exited in {exited - stopped:.1f} s"
                if clean
                else f"still running after {DAPHNE_GRACE_SECONDS:g} s: SIGKILLed"
            )
            tally.faults.append(
                f"{at:5.1f} s  daphne stopped (SIGTERM, {how}) and started again "
                f"(listening {time.monotonic() - exited:.1f} s later)"
            )


async def drive(args: argparse.Namespace, tokens: list[str], web: Process, cluster: Process) -> Tally:
    tally = Tally()
    began = time.monotonic()
    stop_starting, deadline = began + args.seconds, began + args.seconds + SETTLE_SECONDS
    base_url = f"http://127.0.0.1:{web.port}"
    fault_task = asyncio.create_task(faults(cluster, web, tally, began, args.seconds))
    await asyncio.gather(
        *(user(base_url, token, tally, args.runs, stop_starting, deadline) for token in tokens)
    )
    if not fault_task.done():
        fault_task.cancel()
    tally.faults.append(f"{time.monotonic() - began:5.1f} s  every client done")
    return tally


# --- Report ------------------------------------------------------------------------------------------


def quantiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {q[49]:7.1f} ms   p95 {q[94]:7.1f} ms   (n={len(values)})"


def report(tally: Tally, final: dict[str, object], workspace: Path) -> int:
    runs = {int(k): v for k, v in dict(final["runs"]).items()}  # type: ignore[call-overload]
    steps = list(final["steps"])  # type: ignore[call-overload]
    attempts = {(run, key): attempt for run, key, attempt, _ in steps}
    log = workspace / "executions.log"
    executions = (
        Counter((int(run), key) for run, key in (line.split() for line in log.read_text().splitlines()))
        if log.exists()
        else Counter()
    )
    duplicated = sum(max(0, n - attempts.get(k, 0)) for k, n in executions.items())
    rerun = sum(1 for a in attempts.values() if a > 1)
    repeated = sum(1 for n in executions.values() if n > 1)
    acknowledged = set(tally.acknowledged)
    finished_states = ("succeeded", "failed", "cancelled")
    lost = sorted(r for r in acknowledged if runs.get(r) not in finished_states)
    completed = sum(1 for r in acknowledged if runs.get(r) == "succeeded")
    failed = sum(1 for r in acknowledged if runs.get(r) == "failed")
    unacknowledged = sorted(set(runs) - acknowledged)
    five_xx = sum(n for status, n in tally.statuses.items() if status >= 500)
    durations = [
        (tally.finished[r][1] - t) * 1000 for r, t in tally.acknowledged.items() if r in tally.finished
    ]
    print("faults:")
    for line in tally.faults:
        print(f"  {line}")
    print(f"runs started (201)              {len(acknowledged)}")
    print(f"runs completed (succeeded)      {completed}")
    print(f"runs failed                     {failed}")
    print(f"runs lost                       {len(lost)}{f'  {lost}' if lost else ''}")
    orphans_finished = sum(runs[r] in finished_states for r in unacknowledged)
    print(f"runs created, answer lost       {len(unacknowledged)} ({orphans_finished} finished)")
    print(f"step executions completed       {sum(executions.values())} of {len(attempts)} steps")
    print(f"duplicated step executions      {duplicated}")
    print(
        f"steps retried after a kill      {rerun} ({repeated} had finished their side effect "
        "before the kill and ran it again: at-least-once, within their attempts)"
    )
    print(f"5xx responses                   {five_xx}")
    print(f"requests with no server         {tally.connection_errors} (retried)")
    print(f"responses by status             {dict(sorted(tally.statuses.items()))}")
    print(f"latency POST /runs              {quantiles(tally.latencies['POST'])}")
    print(f"latency GET /runs/{{id}}          {quantiles(tally.latencies['GET'])}")
    print(f"run time, 201 to seen finished  {quantiles(durations)}")
    return 1 if lost or duplicated else 0


# --- Main ----------------------------------------------------------------------------------------------


def environment(tmp: Path) -> dict[str, str]:
    tag = f"loadfault-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        SMARTSPEC_DATA_DIR=str(tmp),
        SECRET_KEY=f"bench-{uuid.uuid4().hex}",
        DEBUG="0",
        RATELIMIT_ENABLE="0",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        # Faults are detected quickly: a dead worker's lease expires after 3 s, a lost
        # queue message is re-sent after 5 s.
        STEP_LEASE_SECONDS="3",
        STEP_RESEND_AFTER_SECONDS="5",
        STEP_RETRY_BACKOFF_SECONDS="0.5",
        Q_WORKERS="4",
        Q_NAME=tag,
        CHANNELS_PREFIX=tag,
        CACHE_PREFIX=tag,
    )
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="use a scratch database on this server")
    parser.add_argument("--redis", metavar="URL", help="REDIS_URL (with --postgres)")
    parser.add_argument("--users", type=int, default=8, help="concurrent users (default 8)")
    parser.add_argument("--runs", type=int, default=6, help="runs per user at most (default 6)")
    parser.add_argument("--seconds", type=float, default=30, help="seconds of load (default 30)")
    parser.add_argument("--step-seconds", type=float, default=0.3, help="each step's sleep")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="smartspec-load-fault-"))
    env = environment(tmp)
    try:
        if args.postgres:
            with throwaway_postgres(args.postgres, "load_fault") as url:
                env["DATABASE_URL"] = url
                if args.redis:
                    env["REDIS_URL"] = args.redis
                code = run(env, tmp, args, "PostgreSQL" + (" + Redis" if args.redis else ""))
        else:
            code = run(env, tmp, args, "SQLite (WAL) + ORM broker")
    finally:
        if args.keep:
            print(f"data directory kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    raise SystemExit(code)


def run(env: dict[str, str], tmp: Path, args: argparse.Namespace, label: str) -> int:
    began = time.monotonic()
    manage(env, "migrate_all")
    seed = shell(env, SEED, {"users": args.users, "step_seconds": args.step_seconds, "script": STEP_SCRIPT})
    port = free_port()
    web = Process(
        "daphne",
        [PYTHON, "-m", "smartspec.web", "-b", "127.0.0.1", "-p", str(port), "smartspec.asgi:application"],
        env,
        tmp / "daphne.log",
        port,
    )
    cluster = Process("qcluster", [PYTHON, str(ROOT / "manage.py"), "qcluster"], env, tmp / "qcluster.log")
    print(
        f"{label}: {args.users} users × up to {args.runs} runs of 4 shell steps "
        f"({args.step_seconds:g} s each), {args.seconds:g} s of load, 1 daphne, 1 cluster of "
        f"{env['Q_WORKERS']} workers, {os.cpu_count()} CPUs; set-up {time.monotonic() - began:.1f} s",
        flush=True,
    )
    web.start()
    cluster.start()
    try:
        tally = asyncio.run(drive(args, list(seed["tokens"]), web, cluster))  # type: ignore[call-overload]
    finally:
        web.signal(signal.SIGTERM)
        cluster.signal(signal.SIGTERM)
    final = shell(env, FINAL)
    code = report(tally, final, Path(str(seed["workspace"])))
    print(f"total {time.monotonic() - began:.1f} s")
    return code


if __name__ == "__main__":
    main()
