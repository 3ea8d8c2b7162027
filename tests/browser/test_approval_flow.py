"""Approvers in real Chromium: the emailed link, the form, quorum and reject."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.processes import start_cluster, wait_until_finished
from tests.workflows.engine.conftest import start, template
from workflows.models import ApprovalGate, Run

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def gated_run(project, user, **gate):
    gate.setdefault("approvers", ["role:approver"])
    steps = [
        {"id": "verify", "uses": "noop"},
        {"id": "review", "uses": "approval", "needs": ["verify"], "with": gate},
        {
            "id": "apply",
            "uses": "shell",
            "needs": ["review"],
            "with": {"command": "python -c \"import time; print('applying', flush=True); time.sleep(4)\""},
        },
    ]
    return start(project, template(name="gated", steps=steps), user)


def wait_gate(run: Run, timeout: float = 30) -> ApprovalGate:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gate = ApprovalGate.objects.filter(run=run).first()
        if gate is not None:
            return gate
        time.sleep(0.1)
    raise AssertionError("the gate was not opened")


@pytest.fixture
def mail_cluster(smtp_server, settings):
    cluster = start_cluster(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(settings.EMAIL_PORT))
    yield smtp_server
    cluster.stop()


def link_from(messages, address: str) -> str:
    import time

    for _ in range(100):
        for message in messages:
            if address in message.rcpt_tos:
                match = re.search(r"https?://[^/\s]+(/approvals/link/\S+/)", message.text())
                assert match
                return match.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no email to {address}")


def test_an_approver_follows_the_emailed_link_fills_the_form_and_the_run_goes_on(
    page, daphne_server, eproject, team_users, mail_cluster
):
    form = [
        {"name": "risk", "type": "choice", "choices": ["low", "high"], "required": True},
        {"name": "ticket", "type": "text", "required": True, "min": 3},
    ]
    run = gated_run(eproject, team_users.member, form=form)
    wait_gate(run)
    path = link_from(mail_cluster, "approver-user@example.com")
    page.goto(daphne_server.url + path)  # no password: the link is the credential
    expect(page.get_by_test_id("gate-status")).to_have_text("pending")
    page.get_by_label("ticket *").fill("x")
    page.get_by_label("risk *").select_option("low")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("alert").first).to_contain_text("at least 3 characters")
    page.get_by_label("ticket *").fill("OPS-42")
    page.get_by_label("risk *").select_option("low")
    page.get_by_label("Comment").fill("ship it")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("link-done")).to_contain_text("approved")
    page.get_by_role("link", name=f"Follow run #{run.pk}").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))  # the link signed nobody in
    sign_in(page, team_users.approver, daphne_server.url)
    page.goto(f"{daphne_server.url}/runs/{run.pk}/")
    expect(page.locator('g[data-step="apply"]')).to_have_attribute("data-status", "running", timeout=15_000)
    expect(page.get_by_test_id("gate-history")).to_contain_text("ship it")
    expect(page.get_by_test_id("gate-history")).to_contain_text("via Email link")
    run = wait_until_finished(run, timeout=60)
    assert run.status == "succeeded"
    assert run.steps.get(key="review").output["form"] == {"risk": "low", "ticket": "OPS-42"}


def test_with_quorum_two_one_approval_is_not_enough_and_a_reject_ends_it(
    browser, daphne_server, eproject, team_users, mail_cluster
):
    run = gated_run(eproject, team_users.member, quorum=2)
    gate = wait_gate(run)
    first = browser.new_context().new_page()
    sign_in(first, team_users.approver, daphne_server.url)
    first.goto(f"{daphne_server.url}/approvals/")
    expect(first.get_by_test_id("to-decide-count")).to_have_text("1")
    first.get_by_role("link", name=gate.title).click()
    first.get_by_role("button", name="Approve").click()
    expect(first.get_by_test_id("gate-status")).to_have_text("pending")
    expect(first.locator("[data-testid=gate]")).to_contain_text("1 of 2")
    second = browser.new_context().new_page()
    sign_in(second, team_users.admin, daphne_server.url)
    second.goto(f"{daphne_server.url}/runs/{run.pk}/")
    second.get_by_label("Comment").fill("the migration is not reversible")
    second.get_by_role("button", name="Reject").click()
    expect(second.get_by_test_id("gate-status")).to_have_text("rejected", timeout=15_000)
    run = wait_until_finished(run, timeout=60)
    assert run.status == "failed"
    assert run.steps.get(key="apply").status == "skipped"
    second.goto(f"{daphne_server.url}/runs/{run.pk}/")
    expect(second.get_by_test_id("run-status")).to_have_text("failed")
    expect(second.get_by_test_id("run-error")).to_contain_text("rejected by admin-user")
    first.context.close()
    second.context.close()
