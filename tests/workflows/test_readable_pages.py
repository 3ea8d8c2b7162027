"""Pages a team reads at a glance: words, not constants; no Python dicts or lists on a
page; a progress bar that tells the truth; one vocabulary for where a spec stands."""

from __future__ import annotations

import re

import pytest
from django.db import transaction
from django.urls import reverse

from accounts.models import Profile
from tests.workflows.engine.conftest import drain, start, template
from workflows.models import ApprovalGate, Run
from workflows.services.template_lookups import template_version_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SPEC = "spec-core-001-authentication"
REPR = re.compile(r"\{'|\['|\{&#x27;|\[&#x27;|&#x27;: ")


def no_repr(body: str) -> None:
    found = REPR.search(body)
    assert found is None, body[max(0, found.start() - 200) : found.end() + 200]


def one_h1(body: str) -> None:
    assert body.count("<h1") == 1, body.count("<h1")


def loop_run(project, user):
    run = start(project, template_version_for(project, "development-loop"), user, spec_id=SPEC)
    return drain(run)


def test_a_run_page_shows_outputs_and_params_as_words(client, team_users, project):
    run = loop_run(project, team_users.member)
    assert run.status == Run.Status.SUCCEEDED, run.error
    client.force_login(team_users.member)
    body = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    no_repr(body)
    one_h1(body)
    assert 'data-testid="run-outcome"' in body and "Succeeded" in body
    # Workflows and step kinds in words, their machine names on hover.
    assert 'title="sync_tasks_checkboxes">sync the checkboxes</span>' in body
    assert 'title="verify_tasks">verify the tasks</span>' in body
    assert 'role="progressbar"' in body and 'aria-valuenow="100"' in body
    assert "turn 1 of at most 1" in body
    # The logs are collapsed, the events carry their time.
    assert "<details open" not in body and '<details class="log"' in body
    assert re.search(r'<time class="muted" datetime="[^"]+">\d\d:\d\d:\d\d</time>', body)
    # The API keeps the machine names.
    api = client.get(f"/api/v1/runs/{run.pk}")
    if api.status_code == 200:
        assert '"sync_tasks' in api.content.decode() or '"status"' in api.content.decode()


def test_a_sync_gate_previews_the_exact_checkbox_changes(client, team_users, project):
    run = drain(
        start(project, template_version_for(project, "verify-and-sync"), team_users.member, spec_id=SPEC)
    )
    gate = ApprovalGate.objects.get(run=run)
    client.force_login(team_users.approver)
    body = client.get(gate.get_absolute_url()).content.decode()
    no_repr(body)
    one_h1(body)
    assert 'data-testid="checkbox-changes"' in body
    rows = re.findall(r'<tr data-task="([^"]+)"><td><code>[^<]+</code></td><td>(.)</td><td>(.)</td>', body)
    assert rows, "one row per checkbox the sync would change"
    assert all(before != after for _, before, after in rows)
    run_page = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    no_repr(run_page)


def test_a_cancelled_run_never_shows_a_full_green_bar(client, team_users, eproject):
    run = start(
        eproject, template(name="slowone", steps=[{"id": "a", "uses": "noop", "with": {"sleep": 30}}])
    )
    client.force_login(team_users.member)
    page = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert 'data-testid="cancel-confirm"' in page and "Yes, cancel the run" in page
    client.post(reverse("run_cancel", args=[run.pk]))
    body = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    bar = re.search(r'<span class="progress wide tone-(\w+)"[^>]*aria-valuenow="(\d+)"', body)
    assert bar is not None
    assert bar.group(1) != "ok" and int(bar.group(2)) < 100
    assert "Cancelled by member-user." in body


def test_where_a_spec_stands_is_one_phrase_that_never_contradicts_itself(client, team_users, project):
    client.force_login(team_users.member)
    page = client.get(reverse("project_detail", args=[project.slug])).content.decode()
    no_repr(page)
    one_h1(page)
    phrases = re.findall(r'data-testid="where" data-workflow="([^"]+)">([^<]+)<', page)
    assert phrases
    for workflow, phrase in phrases:
        if workflow == "done":
            assert phrase.startswith("done")
        else:
            assert "— next: " in phrase and "COMPLETED" not in phrase
    dashboard = client.get(reverse("dashboard")).content.decode()
    one_h1(dashboard)
    needs_work = re.findall(r'data-testid="where" data-workflow="([^"]+)"', dashboard)
    assert needs_work and "done" not in needs_work
    spec = client.get(reverse("spec_detail", args=[project.slug, SPEC])).content.decode()
    no_repr(spec)
    one_h1(spec)
    assert 'data-testid="next-step" data-workflow="sync_tasks_checkboxes">in progress: ' in spec


def test_the_command_box_answers_a_status_with_the_statuses_and_no_debug_text(client, team_users, project):
    client.force_login(team_users.member)
    url = reverse("command", args=[project.slug])
    body = client.post(url, {"text": "status"}, HTTP_HX_REQUEST="true").content.decode()
    assert "confidence" not in body and "matched" not in body
    assert f'href="/projects/{project.slug}/specs/{SPEC}/"' in body or SPEC in body
    assert 'data-testid="status-answer"' in body and 'data-testid="where"' in body
    one = client.post(url, {"text": "status core-001"}, HTTP_HX_REQUEST="true").content.decode()
    assert one.count("<li data-spec=") == 1 and SPEC in one


def test_thai_readers_get_the_run_page_gates_and_inbox_in_thai(client, team_users, project):
    run = drain(
        start(project, template_version_for(project, "verify-and-sync"), team_users.member, spec_id=SPEC)
    )
    Profile.objects.create(user=team_users.approver, language="th")
    client.force_login(team_users.approver)
    body = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    for english in (
        "Live updates",
        "What this gate decides on",
        "Cancel run",
        ">Logs<",
        ">Events<",
        "steps finished",
    ):
        assert english not in body, english
    assert "ซิงค์ช่องติ๊ก" in body or "ตรวจสอบงาน" in body
    inbox = client.get(reverse("approvals")).content.decode()
    assert " ago" not in inbox and "left" not in inbox.split("<main", 1)[1]


def test_staff_pages_say_they_are_for_staff(client, team_users):
    client.force_login(team_users.member)
    for url in ("/ops/performance/", "/admin/", "/admin/workflows/run/"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "For staff only" in response.content.decode()


def test_every_page_links_the_favicon_and_has_one_h1(client, team_users, project):
    client.force_login(team_users.member)
    for url in (
        "/",
        "/approvals/",
        "/workflows/",
        "/workflows/autopilot/",
        "/accounts/tokens/",
        f"/projects/{project.slug}/",
        f"/projects/{project.slug}/specs/{SPEC}/",
    ):
        body = client.get(url).content.decode()
        assert "favicon.svg" in body, url
        one_h1(body)
        no_repr(body)


def test_a_refusal_is_said_in_the_readers_language(client, team_users, project):
    Profile.objects.create(user=team_users.viewer, language="th")
    client.force_login(team_users.viewer)
    url = reverse("command", args=[project.slug])
    body = client.post(url, {"text": f"รัน {SPEC}", "confirm": "1"}).content.decode()
    assert "การเริ่มเวิร์กโฟลว์ต้องมีบทบาทสมาชิก" in body and "needs the member role" not in body


def test_why_a_run_stopped_is_said_in_the_readers_language(client, team_users, project):
    from workflows.domain.texts import Text
    from workflows.engine.scheduler import run_set_status

    run = loop_run(project, team_users.member)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING)
    run.refresh_from_db()
    reason = Text(
        "stopped: {tasks} needs a manual check, which no agent can do; "
        "record the check on the spec page, then run again",
        tasks="TSK-AUTH-006",
    )
    with transaction.atomic():
        assert run_set_status(run, Run.Status.STOPPED, outcome=Run.Outcome.NEEDS_MANUAL, reason=reason)
    run.refresh_from_db()
    assert run.outcome_reason.startswith("stopped: TSK-AUTH-006 needs a manual check")  # the API's words
    client.force_login(team_users.member)
    english = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert "Stopped: TSK-AUTH-006 needs a manual check, which no agent can do" in english
    Profile.objects.create(user=team_users.viewer, language="th")
    client.force_login(team_users.viewer)
    thai = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert "หยุดแล้ว: TSK-AUTH-006 ต้องตรวจด้วยคน" in thai and "needs a manual check, which" not in thai
