"""The engine with real django-q2 clusters in other processes: crash, restart, cancel."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.processes import start_cluster
from tests.workflows.engine.conftest import start, template
from tests.workflows.engine.test_shell import SPAWNER, running_in
from workflows.models import Run, Step
from workflows.services.runs import run_cancel

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, databases="__all__")]
SCRIPT = Path(__file__).resolve().parents[2] / "fixtures" / "scripts" / "slow_step.py"


def wait_for(predicate: Callable[[], object], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def step_status(run: Run, key: str) -> str:
    return Step.objects.get(run=run, key=key).status


def test_a_killed_cluster_loses_nothing_and_repeats_no_completed_step(eproject):
    shutil.copy(SCRIPT, eproject.workspace_path / "slow_step.py")
    steps = [{"id": "s1", "uses": "shell", "retries": 2, "with": {"command": "python slow_step.py s1 0.5"}}]
    for i in range(2, 5):
        steps.append(
            {
                "id": f"s{i}",
                "uses": "shell",
                "retries": 2,
                "needs": [f"s{i - 1}"],
                "with": {"command": f"python slow_step.py s{i} 1.5"},
            }
        )
    env = {"STEP_LEASE_SECONDS": "3", "Q_WORKERS": "2"}
    cluster = start_cluster(**env)
    try:
        run = start(eproject, template(name="crash", steps=steps))
        wait_for(lambda: step_status(run, "s2") == "running", what="s2 running")
        time.sleep(0.5)
    finally:
        cluster.kill()
    counter = eproject.workspace_path / "counter.txt"
    assert counter.read_text().split() == ["s1"]  # s2 died with its worker
    cluster = start_cluster(**env)
    try:
        wait_for(lambda: Run.objects.get(pk=run.pk).is_finished, timeout=90, what="the run to finish")
    finally:
        cluster.stop()
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert counter.read_text().split() == ["s1", "s2", "s3", "s4"]
    started = (eproject.workspace_path / "started.txt").read_text().split()
    assert started.count("s2") == 2 and started.count("s3") == 1
    assert run.steps.get(key="s2").attempt == 2
    assert run.events.filter(type="step.retrying", data__key="s2").exists()
    seqs = list(run.events.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_step_whose_worker_died_runs_again_even_without_retries(eproject):
    """A worker's death is the infrastructure's failure, not the step's: a step with
    retries: 0 runs again once, the event says why, and its own retries stay unspent."""
    shutil.copy(SCRIPT, eproject.workspace_path / "slow_step.py")
    steps = [{"id": "s1", "uses": "shell", "with": {"command": "python slow_step.py s1 1.5"}}]
    env = {"STEP_LEASE_SECONDS": "3", "Q_WORKERS": "1"}
    cluster = start_cluster(**env)
    try:
        run = start(eproject, template(name="crash-once", steps=steps))
        wait_for(lambda: step_status(run, "s1") == "running", what="s1 running")
        time.sleep(0.3)
    finally:
        cluster.kill()
    cluster = start_cluster(**env)
    try:
        wait_for(lambda: Run.objects.get(pk=run.pk).is_finished, timeout=90, what="the run to finish")
    finally:
        cluster.stop()
    run.refresh_from_db()
    assert (run.status, run.outcome) == ("succeeded", "steps_passed"), run.error
    s1 = run.steps.get(key="s1")
    assert (s1.max_retries, s1.attempt, s1.infra_retries) == (0, 2, 1)
    retried = run.events.get(type="step.retrying", data__key="s1")
    assert retried.data["error"].startswith("infrastructure: the worker running it stopped responding")
    assert (eproject.workspace_path / "counter.txt").read_text().split() == ["s1"]


def test_cancel_stops_a_running_shell_and_its_children(eproject):
    cluster = start_cluster()
    try:
        run = start(
            eproject,
            template(name="cancel", steps=[{"id": "long", "uses": "shell", "with": {"command": SPAWNER}}]),
        )
        pids = eproject.workspace_path / "pids"
        wait_for(lambda: pids.exists() and pids.read_text(), what="the process to start")
        assert len(running_in(eproject.workspace_path)) >= 2  # the step and its child
        run_cancel(run=run, by=None, channel="api")
        wait_for(lambda: not running_in(eproject.workspace_path), timeout=5, what="the processes to die")
        run.refresh_from_db()
        assert run.status == "cancelled"
    finally:
        cluster.stop()
    assert Step.objects.get(run=run).status == "cancelled"


def test_after_a_restart_queued_work_carries_on(eproject):
    run = start(
        eproject,
        template(
            name="later", steps=[{"id": "a", "uses": "noop"}, {"id": "b", "uses": "noop", "needs": ["a"]}]
        ),
    )
    # No cluster was running when the run started (the machine was down); one starts now.
    cluster = start_cluster()
    try:
        wait_for(lambda: Run.objects.get(pk=run.pk).is_finished, what="the run to finish")
    finally:
        cluster.stop()
    assert Run.objects.get(pk=run.pk).status == "succeeded"
