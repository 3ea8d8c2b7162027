"""The run page in real Chromium: live updates, reconnects, and several viewers."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.processes import start_cluster, start_daphne, wait_until_finished
from tests.workflows.engine.conftest import start, template

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

FINISHED_WITHIN = 60  # seconds a run of these tests takes at the most
TICKER = "python -c \"import time\nfor i in range(6):\n    print('tick', i, flush=True); time.sleep(0.4)\""


def slow_run(project, user):
    steps = [
        {"id": "one", "uses": "shell", "with": {"command": TICKER}},
        {"id": "two", "uses": "shell", "needs": ["one"], "with": {"command": TICKER}},
        {"id": "three", "uses": "noop", "needs": ["two"]},
    ]
    return start(project, template(name="slow", steps=steps), user)


@pytest.fixture
def cluster():
    running = start_cluster()
    yield running
    running.stop()


def event_seqs(page) -> list[int]:
    return page.eval_on_selector_all("#events li", "items => items.map(i => Number(i.dataset.seq))")


def test_steps_turn_green_without_a_reload(page, daphne_server, eproject, team_users, cluster):
    sign_in(page, team_users.member, daphne_server.url)
    run = slow_run(eproject, team_users.member)
    page.goto(f"{daphne_server.url}/runs/{run.pk}/")
    page.evaluate("window.__sameDocument = true")
    expect(page.get_by_test_id("connection")).to_have_text("Live updates: connected")
    expect(page.locator('g[data-step="one"]')).to_have_attribute("data-status", "succeeded", timeout=20_000)
    expect(page.locator('g[data-step="three"]')).to_have_attribute("data-status", "succeeded", timeout=20_000)
    expect(page.get_by_test_id("run-status")).to_have_text("succeeded")
    expect(page.locator('details.log[data-log="two"] pre')).to_contain_text("tick 5")
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    run = wait_until_finished(run, timeout=FINISHED_WITHIN)
    assert event_seqs(page)[-1] == run.last_seq


def test_events_missed_during_a_daphne_restart_appear_once_after_reconnect(
    page, eproject, team_users, cluster, django_db_blocker
):
    server = start_daphne()
    try:
        sign_in(page, team_users.member, server.url)
        run = slow_run(eproject, team_users.member)
        page.goto(f"{server.url}/runs/{run.pk}/")
        expect(page.get_by_test_id("connection")).to_have_text("Live updates: connected")
        expect(page.locator("#events li")).not_to_have_count(0)
        server.kill()  # the socket drops; the worker goes on writing events
        expect(page.get_by_test_id("connection")).to_have_text("Live updates: reconnecting…")
        seen_while_down = len(event_seqs(page))
        time.sleep(2.5)
        server = start_daphne(port=server.port)
        run = wait_until_finished(run, timeout=FINISHED_WITHIN)
        # The last events reach the page over the socket a moment after the run ends.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if len(event_seqs(page)) >= run.last_seq:
                break
            time.sleep(0.2)
        seqs = event_seqs(page)
        assert seqs == list(range(1, run.last_seq + 1))  # each once, none missing
        assert run.last_seq > seen_while_down
    finally:
        server.stop()


def test_two_browsers_on_one_run_see_the_same_events(browser, daphne_server, eproject, team_users, cluster):
    run = slow_run(eproject, team_users.member)
    pages = []
    for user in (team_users.member, team_users.viewer):
        context = browser.new_context()
        page = context.new_page()
        sign_in(page, user, daphne_server.url)
        page.goto(f"{daphne_server.url}/runs/{run.pk}/")
        pages.append(page)
    run = wait_until_finished(run, timeout=FINISHED_WITHIN)
    for page in pages:
        expect(page.locator("#events li")).to_have_count(run.last_seq, timeout=20_000)
    assert event_seqs(pages[0]) == event_seqs(pages[1]) == list(range(1, run.last_seq + 1))
    for page in pages:
        page.context.close()


def test_the_run_page_reads_fine_without_javascript(browser, daphne_server, eproject, team_users, cluster):
    run = wait_until_finished(slow_run(eproject, team_users.member), timeout=FINISHED_WITHIN)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, team_users.member, daphne_server.url)
    page.goto(f"{daphne_server.url}/runs/{run.pk}/")
    expect(page.get_by_test_id("run-status")).to_have_text("succeeded")
    assert event_seqs(page) == list(range(1, run.last_seq + 1))
    context.close()


def test_the_pages_fit_a_phone(browser, daphne_server, eproject, team_users):
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    sign_in(page, team_users.member, daphne_server.url)
    for path in ("/", f"/projects/{eproject.slug}/", "/approvals/", "/workflows/"):
        page.goto(daphne_server.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is {overflow}px wider than a phone"
    context.close()


def test_a_thai_reader_follows_the_run_in_thai(page, daphne_server, eproject, team_users, cluster):
    from accounts.models import Profile

    Profile.objects.create(user=team_users.member, language="th")
    sign_in(page, team_users.member, daphne_server.url)
    run = slow_run(eproject, team_users.member)
    page.goto(f"{daphne_server.url}/runs/{run.pk}/")
    expect(page.get_by_test_id("connection")).to_have_text("อัปเดตสด: เชื่อมต่อแล้ว")
    run = wait_until_finished(run, timeout=FINISHED_WITHIN)
    expect(page.locator("#events li")).to_have_count(run.last_seq, timeout=20_000)
    # Log events that arrived over the websocket name their lines in Thai too.
    expect(page.locator("#events li", has_text="step.log").first).to_contain_text("บรรทัด")
    expect(page.locator("#events")).not_to_contain_text("lines")
