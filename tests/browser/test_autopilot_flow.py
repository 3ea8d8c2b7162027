"""The demo's autopilot in real Chromium, as a new user meets it after `make run`: it stops
on the task only a person can check and says so, the check is recorded on the spec page,
and the next run finishes; while a run is active, the spec page leads to it."""

from __future__ import annotations

import re
import shutil
import time

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.processes import start_cluster, wait_until_finished
from workflows.models import Project, Run

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

AUTH = "spec-core-001-authentication"


@pytest.fixture
def demo(db):  # type: ignore[no-untyped-def]
    """The demo as `make run` seeds it, in the data directory the server processes use."""
    call_command("seed_demo", "--reset-workspace")
    project = Project.objects.get(slug="demo")
    yield project
    shutil.rmtree(project.workspace, ignore_errors=True)


@pytest.fixture
def cluster():  # type: ignore[no-untyped-def]
    running = start_cluster()
    yield running
    running.stop()


def newest_run(project: Project, after: int = 0) -> Run:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        run = project.runs.filter(pk__gt=after).order_by("-pk").first()
        if run is not None:
            return run
        time.sleep(0.2)
    raise AssertionError("no run was started")


def test_the_demo_autopilot_stops_on_the_manual_task_and_finishes_once_it_is_checked(
    page, daphne_server, demo, cluster
):
    sign_in(page, User.objects.get(username="demo-member"), daphne_server.url)
    spec_page = f"{daphne_server.url}/projects/demo/specs/{AUTH}/"
    page.goto(spec_page)
    page.get_by_test_id("start-autopilot").get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"/runs/\d+/$"))
    run = wait_until_finished(newest_run(demo), timeout=180)
    assert (run.status, run.outcome) == ("stopped", "needs_manual")
    assert run.iterations < 12  # the run took all 12 turns and said "succeeded"
    page.reload()
    outcome = page.get_by_test_id("run-outcome")
    expect(outcome).to_contain_text("TSK-AUTH-006 needs a manual check")
    expect(page.locator(".progress[role=progressbar]").first).not_to_have_attribute("aria-valuenow", "100")

    # The check only a person can make, recorded where the task is listed.
    page.goto(spec_page)
    row = page.locator('tr[data-task="TSK-AUTH-006"]')
    row.get_by_role("textbox").fill("Signed in and out on the login screen by hand")
    row.get_by_role("button", name="Mark as checked by hand").click()
    expect(page.locator('tr[data-task="TSK-AUTH-006"]')).to_contain_text("checked by demo-member")

    page.get_by_test_id("start-autopilot").get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"/runs/\d+/$"))
    again = wait_until_finished(newest_run(demo, after=run.pk), timeout=180)
    assert (again.status, again.outcome) == ("succeeded", "done"), again.outcome_reason
    page.reload()
    expect(page.get_by_test_id("run-outcome")).to_contain_text("Succeeded: done")


def test_while_a_run_is_active_the_spec_page_leads_to_it(page, daphne_server, demo, cluster):
    sign_in(page, User.objects.get(username="demo-member"), daphne_server.url)
    spec_page = f"{daphne_server.url}/projects/demo/specs/{AUTH}/"
    page.goto(spec_page)
    # Supervised, chosen on the page: the run waits for an approval before its agent step.
    form = page.get_by_test_id("start-autopilot")
    form.get_by_test_id("autopilot-mode").select_option("supervised")
    form.get_by_test_id("autopilot-limit").fill("3")
    form.get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"/runs/\d+/$"))
    run = newest_run(demo)
    assert run.params == {"mode": "supervised", "max_iterations": 3}
    deadline = time.monotonic() + 60
    while run.status != Run.Status.WAITING and time.monotonic() < deadline:
        time.sleep(0.3)
        run.refresh_from_db()
    assert run.status == Run.Status.WAITING
    page.goto(spec_page)
    active = page.get_by_test_id("active-run")
    expect(active).to_have_attribute("data-run", str(run.pk))
    # Pressing the button again does not start a second run: it leads to the active one.
    page.get_by_test_id("start-autopilot").get_by_role("button").click()
    expect(page).to_have_url(re.compile(rf"/runs/{run.pk}/$"))
    assert demo.runs.count() == 1
