"""Manual checks over the API, one active run per spec and workflow (409 with its id), and
the run's outcome in the API's run output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from accounts.models import AuditEntry
from tests.api.conftest import API, ApiClient
from workflows.models import ManualCheck, Project

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

AUTH = "spec-core-001-authentication"
CHECK = f"/projects/demo/specs/{AUTH}/tasks/TSK-AUTH-006/manual-check"


@pytest.fixture
def demo(data_dir) -> Project:
    call_command("seed_demo")
    return Project.objects.get(slug="demo")


def user(name: str) -> User:
    return User.objects.get(username=name)


def task_of(client: ApiClient, task_id: str) -> dict[str, Any]:
    spec = client.get(f"/projects/demo/specs/{AUTH}").json()
    return next(t for t in spec["tasks"] if t["id"] == task_id)


def test_a_member_records_and_withdraws_a_manual_check(
    demo: Project, as_user: Callable[..., ApiClient]
) -> None:
    member = as_user(user("demo-member"))
    assert task_of(member, "TSK-AUTH-006")["status"] == "needs_manual"

    answer = member.post(CHECK, {"note": "the three states render"})
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["checked_by"], body["note"], body["task"]["status"]) == (
        "demo-member",
        "the three states render",
        "verified",
    )
    assert body["task"]["reasons"][0].startswith("manual check: checked by demo-member on ")
    assert task_of(member, "TSK-AUTH-006")["status"] == "verified"  # seen at once
    spec = member.get(f"/projects/demo/specs/{AUTH}").json()
    assert spec["status"]["tasks_needs_manual"] == 0
    entry = AuditEntry.objects.get(action="workflows.manual_check.recorded")
    assert entry.actor.username == "demo-member" and entry.data["task_id"] == "TSK-AUTH-006"

    gone = member.client.delete(API + CHECK)
    assert gone.status_code == 200
    assert gone.json()["task"]["status"] == "needs_manual"
    assert task_of(member, "TSK-AUTH-006")["status"] == "needs_manual"
    assert not ManualCheck.objects.exists()
    assert AuditEntry.objects.filter(action="workflows.manual_check.withdrawn").count() == 1


def test_who_may_record_a_manual_check(demo: Project, as_user: Callable[..., ApiClient]) -> None:
    viewer = as_user(user("demo-viewer"))
    assert viewer.post(CHECK, {"note": "x"}).status_code == 403
    outsider = as_user(User.objects.create_user("outsider", password="x"))
    assert outsider.post(CHECK, {"note": "x"}).status_code == 404
    member = as_user(user("demo-member"))
    unknown = member.post(f"/projects/demo/specs/{AUTH}/tasks/TSK-NOPE-001/manual-check", {"note": "x"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "task_id"
    automatic = member.post(f"/projects/demo/specs/{AUTH}/tasks/TSK-AUTH-001/manual-check", {"note": "x"})
    assert automatic.status_code == 422
    assert "not a task that needs a manual check" in automatic.json()["detail"]
    assert member.post("/projects/demo/specs/spec-nope/tasks/T1/manual-check", {}).status_code == 404
    assert not ManualCheck.objects.exists()


def test_a_second_start_answers_409_with_the_active_run(
    demo: Project, as_user: Callable[..., ApiClient]
) -> None:
    member = as_user(user("demo-member"))
    start = {"project": "demo", "workflow": "autopilot", "spec_id": AUTH}
    first = member.post("/runs", start)
    assert first.status_code == 201
    run_id = first.json()["id"]
    assert (first.json()["outcome"], first.json()["outcome_reason"]) == ("", "")

    second = member.post("/runs", start)
    assert second.status_code == 409
    body = second.json()
    assert body["code"] == "conflict" and body["run_id"] == run_id
    assert body["errors"] == [{"field": "spec_id", "message": body["detail"], "run_id": run_id}]
    assert f"Run {run_id} of autopilot on {AUTH} is still " in body["detail"]

    # Another workflow on the same spec, or the same one on purpose, may start.
    assert member.post("/runs", {**start, "workflow": "development-loop"}).status_code == 201
    on_purpose = member.post("/runs", {**start, "allow_concurrent": True})
    assert on_purpose.status_code == 201 and on_purpose.json()["id"] != run_id


def test_stopped_runs_are_listed_with_their_outcome(demo: Project, as_user: Callable[..., ApiClient]) -> None:
    from tests.workflows.engine.conftest import drain
    from workflows.services.runs import run_start
    from workflows.services.template_lookups import template_version_for

    version = template_version_for(demo, "autopilot")
    run = drain(run_start(project=demo, version=version, spec_id=AUTH, started_by=None, channel="web"))
    assert run.status == "stopped"
    member = as_user(user("demo-member"))
    page = member.get("/runs", status="stopped").json()
    assert [r["id"] for r in page["items"]] == [run.pk]
    item = page["items"][0]
    assert (item["status"], item["outcome"]) == ("stopped", "needs_manual")
    assert "TSK-AUTH-006 needs a manual check" in item["outcome_reason"]
    detail = member.get(f"/runs/{run.pk}").json()
    assert (detail["status"], detail["outcome"]) == ("stopped", "needs_manual")
