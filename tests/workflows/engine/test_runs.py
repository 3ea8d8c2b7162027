from __future__ import annotations

import pytest

from tests.workflows.engine.conftest import drain, seqs, start, statuses, template
from workflows.engine.executors import StepResult
from workflows.engine.worker import claim, complete, execute_step
from workflows.models import Checkpoint, Run, Step
from workflows.services.runs import (
    RunError,
    run_cancel,
    run_rerun_from_checkpoint,
    run_resume,
    run_retry,
)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def chain(n: int) -> str:
    steps = [{"id": "s0", "uses": "noop"}] + [
        {"id": f"s{i}", "uses": "noop", "needs": [f"s{i - 1}"]} for i in range(1, n)
    ]
    return template(name="chain", steps=steps)


def test_a_chain_runs_in_order_to_success(eproject):
    run = drain(start(eproject, chain(5)))
    assert run.status == Run.Status.SUCCEEDED
    assert set(statuses(run).values()) == {"succeeded"}
    started = [e.data["key"] for e in run.events.filter(type="step.started").order_by("seq")]
    assert started == ["s0", "s1", "s2", "s3", "s4"]
    assert seqs(run) == list(range(1, run.last_seq + 1))
    assert run.checkpoints.count() == 5


def test_independent_steps_are_queued_together_up_to_max_parallel(eproject):
    steps = [{"id": f"p{i}", "uses": "noop"} for i in range(5)] + [
        {"id": "join", "uses": "noop", "needs": [f"p{i}" for i in range(5)]}
    ]
    run = start(eproject, template(name="par", max_parallel=3, steps=steps))
    assert sorted(run.steps.filter(status="queued").values_list("key", flat=True)) == ["p0", "p1", "p2"]
    run = drain(run)
    assert run.status == Run.Status.SUCCEEDED
    assert statuses(run)["join"] == "succeeded"


def test_a_failed_step_skips_its_dependents_and_fails_the_run(eproject):
    steps = [
        {"id": "a", "uses": "noop", "with": {"fail": True, "message": "boom"}},
        {"id": "b", "uses": "noop", "needs": ["a"]},
        {"id": "c", "uses": "noop"},
    ]
    run = drain(start(eproject, template(name="f", steps=steps)))
    assert run.status == Run.Status.FAILED
    assert statuses(run) == {"a": "failed", "b": "skipped", "c": "succeeded"}
    assert "boom" in run.error


def test_retries_run_the_step_again_until_it_gives_up(eproject):
    steps = [{"id": "a", "uses": "noop", "retries": 2, "with": {"fail": True}}]
    run = drain(start(eproject, template(name="r", steps=steps)))
    step = run.steps.get()
    assert step.status == "failed" and step.attempt == 3
    assert run.events.filter(type="step.retrying").count() == 2


def test_fan_out_with_join_all(eproject):
    steps = [
        {"id": "fan", "uses": "noop", "for_each": ["x", "y", "z"]},
        {"id": "after", "uses": "noop", "needs": ["fan"]},
    ]
    run = drain(start(eproject, template(name="fan", steps=steps)))
    assert run.status == "succeeded"
    s = statuses(run)
    assert s["fan[0]"] == s["fan[1]"] == s["fan[2]"] == s["fan"] == s["after"] == "succeeded"
    assert run.steps.get(key="fan[1]").output == {"item": "y"}


def test_fan_out_over_run_params(eproject):
    steps = [{"id": "fan", "uses": "noop", "for_each": "params.files"}]
    run = drain(start(eproject, template(name="fanp", steps=steps), params={"files": [1, 2]}))
    assert run.status == "succeeded"
    assert run.steps.filter(parent__isnull=False).count() == 2
    bad = drain(start(eproject, template(name="fanp", steps=steps), params={"files": "no"}))
    assert bad.status == "failed" and "params.files must be a list" in bad.error


def test_join_any_cancels_the_rest_after_the_first_success(eproject):
    steps = [{"id": "fan", "uses": "noop", "for_each": [1, 2, 3, 4], "join": "any"}]
    run = start(eproject, template(name="any", max_parallel=1, steps=steps))
    drain(run)
    s = statuses(run)
    assert s["fan"] == "succeeded"
    assert s["fan[0]"] == "succeeded"
    assert {s["fan[1]"], s["fan[2]"], s["fan[3]"]} == {"cancelled"}


def test_join_k_of_n(eproject):
    steps = [
        {
            "id": "fan",
            "uses": "shell",
            "for_each": [0, 1, 0, 1],
            "join": 2,
            "with": {"command": "python -c 'import sys; sys.exit(${{ item }})'"},
        }
    ]
    run = drain(start(eproject, template(name="k", max_parallel=1, steps=steps)))
    assert statuses(run)["fan"] == "succeeded"
    assert run.steps.get(key="fan").output["succeeded"] == 2
    steps[0]["join"] = 3
    run = drain(start(eproject, template(name="k", max_parallel=1, steps=steps)))
    assert statuses(run)["fan"] == "failed"
    assert "the join needed 3" in run.error


def test_retry_never_reruns_succeeded_branches(eproject):
    # Files the step can reach: in its workspace (a sandboxed step sees nothing else).
    folder = eproject.workspace_path
    marker = folder / "ok"
    steps = [
        {
            "id": "fan",
            "uses": "shell",
            "for_each": [1, 2, 3],
            "with": {
                "command": "python -c \"import pathlib,sys; p=pathlib.Path('"
                + str(folder)
                + "/ran-${{ item }}'); p.write_text(p.read_text()+'x' if p.exists() else 'x'); sys.exit(0 if ${{ item }} != 2 or pathlib.Path('"
                + str(marker)
                + "').exists() else 1)\""
            },
        }
    ]
    run = drain(start(eproject, template(name="rb", max_parallel=1, steps=steps)))
    assert run.status == "failed"
    marker.write_text("now it works")
    run_retry(run=run, by=None, channel="web")
    run = drain(run)
    assert run.status == "succeeded"
    assert (folder / "ran-1").read_text() == "x"
    assert (folder / "ran-2").read_text() == "xx"
    assert (folder / "ran-3").read_text() == "x"


def test_a_duplicate_message_cannot_run_a_step_twice(eproject):
    run = start(eproject, template(name="d", steps=[{"id": "a", "uses": "noop"}]))
    step = run.steps.get()
    first = claim(step.pk)
    assert first is not None
    assert claim(step.pk) is None  # a second delivery finds it running
    complete(first, StepResult.ok())
    execute_step(step.pk)  # and a late one finds it done
    assert run.events.filter(type="step.started").count() == 1
    assert run.events.filter(type="step.succeeded").count() == 1


def test_a_stale_attempt_cannot_complete_over_a_newer_one(eproject):
    run = start(eproject, template(name="st", steps=[{"id": "a", "uses": "noop", "retries": 1}]))
    step = claim(run.steps.get().pk)
    Step.objects.filter(pk=step.pk).update(status="queued")  # the lease expired, it was re-queued
    newer = claim(step.pk)
    assert newer.attempt == 2
    assert complete(step, StepResult.fail("late")) is None
    assert Step.objects.get(pk=step.pk).status == "running"
    complete(newer, StepResult.ok())
    assert Step.objects.get(pk=step.pk).status == "succeeded"


def test_cancel_stops_the_run_and_its_queued_steps(eproject, team_users):
    run = start(eproject, chain(3))
    run_cancel(run=run, by=team_users.admin, channel="web")
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert set(statuses(run).values()) == {"cancelled"}
    with pytest.raises(RunError, match="already cancelled"):
        run_cancel(run=run, by=team_users.admin, channel="web")


def test_resume_continues_from_the_failed_step(eproject):
    flag = eproject.workspace_path / "fixed"
    steps = [
        {"id": "a", "uses": "noop"},
        {
            "id": "b",
            "uses": "shell",
            "needs": ["a"],
            "with": {
                "command": f"python -c \"import pathlib,sys; sys.exit(0 if pathlib.Path('{flag}').exists() else 1)\""
            },
        },
        {"id": "c", "uses": "noop", "needs": ["b"]},
    ]
    run = drain(start(eproject, template(name="res", steps=steps)))
    assert statuses(run) == {"a": "succeeded", "b": "failed", "c": "skipped"}
    with pytest.raises(RunError):
        run_resume(
            run=Run.objects.get(pk=run.pk, status="failed").__class__.objects.create(
                project=eproject, template_version=run.template_version, workflow_name="x", status="succeeded"
            ),
            by=None,
            channel="web",
        )
    flag.write_text("")
    run_resume(run=run, by=None, channel="web")
    run = drain(run)
    assert run.status == "succeeded"
    assert run.events.filter(type="step.started", data__key="a").count() == 1


def test_rerun_from_a_checkpoint_is_a_new_run_that_skips_done_steps(eproject):
    run = drain(start(eproject, chain(4)))
    checkpoint = run.checkpoints.order_by("seq")[1]  # after s0 and s1
    assert checkpoint.state["key"] == "s1"
    new = drain(run_rerun_from_checkpoint(run=run, checkpoint=checkpoint, by=None, channel="web"))
    assert new.pk != run.pk and new.parent_id == run.pk
    assert new.status == "succeeded"
    started = [e.data["key"] for e in new.events.filter(type="step.started")]
    assert started == ["s2", "s3"]
    assert Checkpoint.objects.filter(run=new).count() == 2
