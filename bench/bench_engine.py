"""Engine overhead: a chain of no-op steps and a for_each fan-out, beside LangGraph.

    python bench/bench_engine.py [--steps 200] [--items 1000] [--workers 2] [--repeat 3]

It uses a throwaway database: SQLite in a temporary data directory by default; with
DATABASE_URL=postgres://…/<name> and REDIS_URL=redis://… it creates (and drops) the
database `<name>_bench` on that server and uses Redis for the queue and channel layer,
and also times LangGraph with its PostgreSQL checkpointer on that server.
Needs the bench extra: `.venv/bin/uv pip install -r bench/requirements.lock`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def prepare_environment(data_dir: Path) -> str:
    os.environ["SMARTSPEC_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartspec.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    # Its own queue and channel prefix, so nothing else on the same Redis takes its messages.
    os.environ["Q_NAME"] = os.environ["CHANNELS_PREFIX"] = f"smartspec-bench-{os.getpid()}"
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        parsed = urlparse(url)
        # Named after the database given, so benchmarks pointed at different databases of one
        # server (one per checkout) never drop each other's.
        name = f"{parsed.path.strip('/') or 'smartspec'}_bench"
        admin = urlunparse(parsed._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = urlunparse(parsed._replace(path=f"/{name}"))
        return "PostgreSQL + Redis" if os.environ.get("REDIS_URL") else "PostgreSQL"
    return "SQLite (WAL) + ORM broker"


def setup_django() -> object:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate_all", verbosity=0)
    from accounts.models import Team
    from workflows.models import Project

    team = Team.objects.create(slug="bench", name="Bench")
    workspace = Path(os.environ["SMARTSPEC_DATA_DIR"]) / "workspaces" / "bench"
    workspace.mkdir(parents=True)
    return Project.objects.create(team=team, slug="bench", name="Bench", workspace=str(workspace))


def version(name: str, steps: list[dict[str, object]], max_parallel: int = 4) -> object:
    from workflows.services.templates import template_save

    return template_save(
        data={"name": name, "max_parallel": max_parallel, "steps": steps}, created_by=None, channel="system"
    )


def chain_steps(n: int) -> list[dict[str, object]]:
    return [{"id": "s0", "uses": "noop"}] + [
        {"id": f"s{i}", "uses": "noop", "needs": [f"s{i - 1}"]} for i in range(1, n)
    ]


def chain_in_process(project: object, n: int) -> tuple[float, float]:
    """Seconds per step with one worker executing in this process (no queue hop): wall
    time, and this process's CPU time (on SQLite all of it; less moved by a busy machine)."""
    from workflows.engine.worker import execute_step
    from workflows.models import Step
    from workflows.services.runs import run_start

    template = version("bench-chain", chain_steps(n))
    began, cpu = time.perf_counter(), time.process_time()
    run = run_start(project=project, version=template, started_by=None, channel="system")
    first = Step.objects.get(run=run, key="s0")
    execute_step(first.pk)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    run.refresh_from_db()
    assert run.status == "succeeded", run.status
    return elapsed / n, cpu / n


def start_cluster(workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "Q_WORKERS": str(workers)}
    log = open(Path(os.environ["SMARTSPEC_DATA_DIR"]) / "qcluster.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_cluster(cluster: subprocess.Popen[bytes]) -> None:
    """SIGTERM the cluster's main process (it stops its children), SIGKILL if it hangs."""
    cluster.terminate()
    try:
        cluster.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(cluster.pid, 9)
        cluster.wait()


def wait_cluster_ready() -> None:
    from workflows.models import WorkerCluster

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not WorkerCluster.objects.exists():
        time.sleep(0.1)


def cluster_cpu(cluster: subprocess.Popen[bytes]) -> float:
    """CPU seconds the cluster's processes used so far (workers that exited count through
    their parent's children's times): from /proc, so Linux only."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[2]) == cluster.pid:  # the process group: start_new_session
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / tick


def run_through_cluster(project: object, template: object) -> float:
    from workflows.models import Run
    from workflows.services.runs import run_start

    began = time.perf_counter()
    run = run_start(project=project, version=template, started_by=None, channel="system")
    while True:
        status = Run.objects.filter(pk=run.pk).values_list("status", flat=True).get()
        if status in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.02)
    assert status == "succeeded", status
    return time.perf_counter() - began


def langgraph_chain(n: int, directory: Path) -> float:
    """LangGraph with its SQLite checkpointer: seconds per step over the same chain."""
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(directory / f"langgraph-{time.time_ns()}.sqlite", check_same_thread=False)
    try:
        return _langgraph_run(n, SqliteSaver(conn))
    finally:
        conn.close()


def langgraph_chain_postgres(n: int, url: str) -> float:
    """LangGraph with its PostgreSQL checkpointer, in the benchmark's own database."""
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
        return _langgraph_run(n, saver)


def _langgraph_run(n: int, checkpointer: object) -> float:
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        count: int

    def step(state: State) -> State:
        return {"count": state["count"] + 1}

    graph = StateGraph(State)
    for i in range(n):
        graph.add_node(f"s{i}", step)
    graph.add_edge(START, "s0")
    for i in range(1, n):
        graph.add_edge(f"s{i - 1}", f"s{i}")
    graph.add_edge(f"s{n - 1}", END)
    app = graph.compile(checkpointer=checkpointer)
    config = {"configurable": {"thread_id": f"bench-{time.time_ns()}"}, "recursion_limit": n + 10}
    began = time.perf_counter()
    result = app.invoke({"count": 0}, config)
    elapsed = time.perf_counter() - began
    assert result["count"] == n
    return elapsed / n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smartspec-bench-") as tmp:
        label = prepare_environment(Path(tmp))
        project = setup_django()
        timings = [chain_in_process(project, args.steps) for _ in range(args.repeat)]
        in_process = statistics.median(wall for wall, _ in timings)
        in_process_cpu = statistics.median(cpu for _, cpu in timings)
        peer = statistics.median(langgraph_chain(args.steps, Path(tmp)) for _ in range(args.repeat))
        postgres_peer = None
        if os.environ.get("DATABASE_URL", "").startswith("postgres"):
            url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
            postgres_peer = statistics.median(
                langgraph_chain_postgres(args.steps, url) for _ in range(args.repeat)
            )
        cluster = start_cluster(args.workers)
        try:
            wait_cluster_ready()
            chain = version("bench-chain", chain_steps(args.steps))
            through = (
                statistics.median(run_through_cluster(project, chain) for _ in range(args.repeat))
                / args.steps
            )
            fan = version(
                "bench-fan",
                [{"id": "fan", "uses": "noop", "for_each": list(range(args.items))}],
                max_parallel=args.workers * 4,
            )
            fan_walls, fan_cpus = [], []
            for _ in range(args.repeat):
                cpu = cluster_cpu(cluster)
                fan_walls.append(run_through_cluster(project, fan))
                fan_cpus.append(cluster_cpu(cluster) - cpu)
            fan_wall, fan_cpu = statistics.median(fan_walls), statistics.median(fan_cpus)
        finally:
            stop_cluster(cluster)
        if os.environ.get("DATABASE_URL", "").startswith("postgres"):
            from django.db import connections

            connections.close_all()
    print(f"configuration: {label}")
    print(
        f"chain of {args.steps} no-op steps, one worker in-process: {in_process * 1000:.2f} ms/step "
        f"({in_process_cpu * 1000:.2f} ms CPU/step)"
    )
    print(
        f"chain of {args.steps} no-op steps, through a qcluster ({args.workers} workers): "
        f"{through * 1000:.2f} ms/step"
    )
    print(f"LangGraph {args.steps}-node chain, SqliteSaver checkpointer: {peer * 1000:.2f} ms/step")
    if postgres_peer is not None:
        print(
            f"LangGraph {args.steps}-node chain, PostgresSaver checkpointer (same server): "
            f"{postgres_peer * 1000:.2f} ms/step"
        )
    print(
        f"for_each over {args.items} no-op items, {args.workers} workers: {fan_wall:.2f} s wall "
        f"({fan_wall / args.items * 1000:.2f} ms/item; "
        f"the cluster's CPU {fan_cpu / args.items * 1000:.2f} ms/item)"
    )


if __name__ == "__main__":
    main()
