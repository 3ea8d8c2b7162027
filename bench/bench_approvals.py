"""Approval latency: from the deciding vote to the next step running in a worker.

    python bench/bench_approvals.py [--gates 20]

Starts a qcluster against a throwaway database (SQLite by default; DATABASE_URL and
REDIS_URL switch to PostgreSQL and Redis), runs `--gates` runs of approval → noop, decides
each gate as an approver would (the same service the pages, links and API call), and
measures the time from the decision's commit to the next step's `step.started` event.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gates", type=int, default=20)
    args = parser.parse_args()
    from bench_engine import (
        prepare_environment,
        setup_django,
        start_cluster,
        stop_cluster,
        wait_cluster_ready,
    )

    with tempfile.TemporaryDirectory(prefix="smartspec-bench-") as tmp:
        label = prepare_environment(Path(tmp))
        project = setup_django()
        from django.contrib.auth.models import User

        from accounts.models import Membership
        from workflows.models import ApprovalGate, Event, Run
        from workflows.services.approvals import approval_decide
        from workflows.services.runs import run_start
        from workflows.services.templates import template_save

        approver = User.objects.create_user("approver", email="a@example.com")
        Membership.objects.create(user=approver, team=project.team, role="approver")
        version = template_save(
            data={
                "name": "gate",
                "steps": [
                    {"id": "review", "uses": "approval", "with": {"approvers": ["approver"]}},
                    {"id": "next", "uses": "noop", "needs": ["review"]},
                ],
            },
            created_by=None,
            channel="system",
        )
        cluster = start_cluster(2)
        latencies = []
        try:
            wait_cluster_ready()
            for _ in range(args.gates):
                run = run_start(project=project, version=version, started_by=None, channel="system")
                while (
                    not ApprovalGate.objects.filter(run=run).exists()
                    or Run.objects.get(pk=run.pk).status != "waiting"
                ):
                    time.sleep(0.01)
                gate = ApprovalGate.objects.get(run=run)
                decided = time.time()
                approval_decide(gate=gate, user=approver, verdict="approve", channel="api")
                while not Event.objects.filter(run=run, type="step.started", data__key="next").exists():
                    time.sleep(0.005)
                started = Event.objects.get(run=run, type="step.started", data__key="next").created_at
                latencies.append(started.timestamp() - decided)
        finally:
            stop_cluster(cluster)
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    print(f"configuration: {label}")
    print(
        f"{len(ms)} gates: deciding vote → next step running: p50 {statistics.median(ms):.0f} ms, "
        f"p95 {p95:.0f} ms, max {ms[-1]:.0f} ms"
    )


if __name__ == "__main__":
    main()
