"""Event latency: from an event committed in a worker process to its arrival in a page.

    python bench/bench_events.py [--events 1000] [--interval 0.01]

A writer process (standing in for a worker) commits `--events` events to one run, one per
transaction, each stamped with its commit time; a websocket client subscribed to the run
page's stream records when each arrives. Prints p50/p95/max. It uses a throwaway database:
SQLite in a temporary data directory (the embedded mode: pages poll the event table), or
with DATABASE_URL=postgres://… and REDIS_URL=redis://… a scratch PostgreSQL database and
Channels groups over Redis. Needs the bench extra (bench/requirements.lock).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

WRITER = """
import os, sys, time
import django
django.setup()
from django.db import transaction
from workflows.engine.journal import event_append
run_id, count, interval = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
time.sleep(1.0)
for i in range(count):
    with transaction.atomic():
        event_append(run_id=run_id, type="step.log", data={"lines": [f"line {i}"], "t": time.time()})
    time.sleep(interval)
"""


def setup() -> tuple[str, int, str]:
    from bench_engine import prepare_environment, setup_django

    label = prepare_environment(Path(os.environ["SMARTSPEC_DATA_DIR"]))
    project = setup_django()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    from accounts.models import Membership
    from workflows.services.runs import run_start
    from workflows.services.templates import template_save

    user = User.objects.create_user("watcher")
    Membership.objects.create(user=user, team=project.team, role="viewer")
    version = template_save(
        data={"name": "idle", "steps": [{"id": "a", "uses": "noop"}]}, created_by=None, channel="system"
    )
    run = run_start(project=project, version=version, started_by=None, channel="system")
    client = Client()
    client.force_login(user)
    return label, run.pk, client.cookies[settings.SESSION_COOKIE_NAME].value


async def watch(url: str, cookie: str, count: int, after: int) -> list[float]:
    import websockets

    latencies: list[float] = []
    async with websockets.connect(
        f"{url}?after={after}",
        additional_headers={"Cookie": f"sessionid={cookie}", "Origin": "http://127.0.0.1"},
    ) as socket:
        while len(latencies) < count:
            message = json.loads(await asyncio.wait_for(socket.recv(), timeout=60))
            sent = message.get("data", {}).get("t")
            if sent is not None:
                latencies.append(time.time() - sent)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.01)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smartspec-bench-") as tmp:
        os.environ["SMARTSPEC_DATA_DIR"] = tmp
        label, run_id, cookie = setup()
        from django.db import connections

        from workflows.models import Run

        after = Run.objects.get(pk=run_id).last_seq
        connections.close_all()
        port = 8765 + os.getpid() % 1000
        env = {**os.environ, "RATELIMIT_ENABLE": "0", "LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "smartspec.web",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "smartspec.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(3)
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(run_id), str(args.events), str(args.interval)],
            cwd=ROOT,
            env=env,
        )
        try:
            latencies = asyncio.run(
                watch(f"ws://127.0.0.1:{port}/ws/runs/{run_id}/", cookie, args.events, after)
            )
        finally:
            writer.wait()
            server.terminate()
            server.wait()
    ms = sorted(x * 1000 for x in latencies)
    p50, p95 = statistics.median(ms), ms[int(len(ms) * 0.95) - 1]
    print(f"configuration: {label}")
    print(
        f"{len(ms)} events, one every {args.interval * 1000:.0f} ms: "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms (commit in a worker → page)"
    )


if __name__ == "__main__":
    main()
