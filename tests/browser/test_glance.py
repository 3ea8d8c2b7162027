"""Pages a team reads at a glance, on any screen: real Chromium at phone and laptop widths."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.models import Profile
from tests.browser.conftest import sign_in
from tests.workflows.engine.conftest import drain, start, template
from workflows.models import ApprovalGate, Run
from workflows.services.template_lookups import template_version_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

SPEC = "spec-core-001-authentication"
PHONE = {"width": 375, "height": 740}
LAPTOP = {"width": 1366, "height": 800}

MAIN_OVERFLOW = "() => { const m = document.querySelector('main'); return [m.scrollWidth, m.clientWidth]; }"

# Text nodes outside <code>, <pre>, ids and machine names; what is left must be Thai.
ENGLISH_WORDS = r"""() => {
  const skip = (el) => el.closest('code, pre, script, style, .id, [hidden], svg, select, .brand, .footer, .token');
  const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  const found = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (skip(node.parentElement)) continue;
    // Tokens with - _ . / : @ or digits are ids, paths and names (member-user, TSK-AUTH-001).
    const words = node.textContent.split(/\s+/).filter(t => !/[-_./:@#0-9]/.test(t));
    for (const word of words.join(' ').match(/[A-Za-z]{2,}/g) || []) found.push(word);
  }
  return found;
}"""
# Names that stay as they are in Thai: the product, people, projects, files, ids.
ALLOWED = {
    "SmartSpec",
    "Autopilot",
    "autopilot",
    "Acme",
    "web",
    "md",
    "tasks",
    "spec",
    "plan",
    "member",
    "user",
    "approver",
    "admin",
    "AI",
    "TSK",
    "core",
    "auth",
    "src",
    "py",
    "README",
}


@pytest.fixture
def project(team_users):
    """The basic fixture workspace where the daphne process may read it too (its data
    directory is this process's own, not a test's temporary one)."""
    from django.conf import settings

    from tests.conftest import FIXTURES
    from workflows.models import Project

    target = Path(settings.DATA_DIR) / "workspaces" / f"glance-{uuid.uuid4().hex[:8]}"
    shutil.copytree(FIXTURES / "workspaces" / "basic", target, symlinks=True)
    yield Project.objects.create(
        team=team_users.team,
        slug="acme-web",
        name="Acme web",
        workspace=str(target),
        shell_allowlist=["echo"],
    )
    shutil.rmtree(target, ignore_errors=True)


def phone_page(browser):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def loop_run(project, user) -> Run:
    return drain(start(project, template_version_for(project, "development-loop"), user, spec_id=SPEC))


def test_project_spec_and_run_pages_fit_a_phone(browser, daphne_server, project, team_users):
    run = loop_run(project, team_users.member)
    page = phone_page(browser)
    sign_in(page, team_users.member, daphne_server.url)
    for path in (
        f"/projects/{project.slug}/",
        f"/projects/{project.slug}/specs/{SPEC}/",
        f"/runs/{run.pk}/",
        "/",
        "/approvals/",
        "/workflows/",
        "/accounts/tokens/",
    ):
        page.goto(daphne_server.url + path)
        scroll, client = page.evaluate(MAIN_OVERFLOW)
        assert scroll <= client, f"{path}: main is {scroll}px wide in {client}px"
        # No cell collapses to a letter per line: every visible table cell is wider than 3 letters.
        narrow = page.evaluate(
            "() => Array.from(document.querySelectorAll('main td')).filter(td => td.offsetParent && "
            "td.textContent.trim().length > 3 && td.getBoundingClientRect().width < 40).length"
        )
        assert narrow == 0, path
    page.goto(f"{daphne_server.url}/projects/{project.slug}/")
    expect(page.locator(f'tr[data-spec="{SPEC}"] button').first).to_be_visible()
    page.context.close()


def test_a_thai_run_page_has_no_english_outside_ids_and_code(browser, daphne_server, project, team_users):
    run = drain(
        start(project, template_version_for(project, "verify-and-sync"), team_users.member, spec_id=SPEC)
    )
    assert ApprovalGate.objects.filter(run=run).exists()
    Profile.objects.create(user=team_users.approver, language="th")
    page = browser.new_page()
    sign_in(page, team_users.approver, daphne_server.url)
    page.goto(f"{daphne_server.url}/runs/{run.pk}/")
    expect(page.locator("html")).to_have_attribute("lang", "th")
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    english = [w for w in page.evaluate(ENGLISH_WORDS) if w not in ALLOWED]
    assert not english, english
    page.context.close()


def test_cancel_asks_first_and_the_cancelled_bar_is_not_green(page, daphne_server, eproject, team_users):
    run = start(eproject, template(name="sleepy", steps=[{"id": "a", "uses": "noop", "with": {"sleep": 60}}]))
    sign_in(page, team_users.member, daphne_server.url)
    page.goto(f"{daphne_server.url}/runs/{run.pk}/")
    yes = page.get_by_test_id("cancel-yes")
    expect(yes).to_be_hidden()  # one click is not enough
    page.get_by_text("Cancel run…").click()
    expect(yes).to_be_visible()
    run.refresh_from_db()
    assert run.status != Run.Status.CANCELLED
    yes.click()
    expect(page.get_by_test_id("run-status")).to_have_text("cancelled")
    expect(page.get_by_test_id("run-outcome")).to_contain_text("Cancelled by member-user")
    bar = page.get_by_test_id("run-progress")
    assert int(bar.get_attribute("aria-valuenow")) < 100
    colour = page.evaluate(
        "() => getComputedStyle(document.querySelector('[data-testid=run-progress] > span')).backgroundColor"
    )
    assert colour != "rgb(31, 138, 76)"  # --ok
    expect(page.get_by_test_id("connection")).to_be_hidden()  # no live indicator on a finished run


def test_revoking_a_token_asks_first_and_a_new_token_can_be_copied(page, daphne_server, team_users):
    sign_in(page, team_users.member, daphne_server.url)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=daphne_server.url)
    page.goto(f"{daphne_server.url}/accounts/tokens/")
    page.get_by_label("Name").fill("ci")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_test_id("new-token").text_content().strip()
    page.get_by_test_id("copy-token").click()
    expect(page.get_by_test_id("copy-token")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == token
    yes = page.get_by_test_id("revoke-yes")
    expect(yes).to_be_hidden()
    page.get_by_text("Revoke…").click()
    yes.click()
    expect(page.get_by_role("status").first).to_contain_text("revoked")


def test_one_h1_on_every_page_and_words_do_not_break_at_a_laptop_width(
    browser, daphne_server, project, team_users
):
    run = loop_run(project, team_users.member)
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    sign_in(page, team_users.member, daphne_server.url)
    for path in (
        "/",
        "/approvals/",
        "/workflows/",
        "/workflows/autopilot/",
        "/accounts/tokens/",
        "/accounts/password/change/",
        f"/projects/{project.slug}/",
        f"/projects/{project.slug}/specs/{SPEC}/",
        f"/runs/{run.pk}/",
        "/ops/performance/",
    ):
        page.goto(daphne_server.url + path)
        assert page.locator("h1").count() == 1, path
        broken = page.evaluate(
            "() => Array.from(document.querySelectorAll('main .badge, main .where, main th, main h1, main h2'))"
            ".filter(el => el.offsetParent && !el.closest('.visually-hidden') && !el.querySelector('.visually-hidden') && !/\\s/.test(el.textContent.trim()) && el.getClientRects().length"
            " && (() => { const r = document.createRange(); r.selectNodeContents(el);"
            " return new Set(Array.from(r.getClientRects()).map(c => Math.round(c.top))).size > 1; })())"
            ".map(el => el.textContent.trim())"
        )
        assert not broken, (path, broken)
    page.goto(f"{daphne_server.url}/runs/{run.pk}/")
    status = page.get_by_test_id("run-status")
    assert status.evaluate("el => el.getClientRects().length") == 1
    context.close()


def test_a_failed_step_is_in_view_on_a_phone(browser, daphne_server, eproject, team_users):
    steps = [
        {"id": f"step-{i}", "uses": "noop", **({"needs": [f"step-{i - 1}"]} if i else {})} for i in range(9)
    ]
    steps.append({"id": "last-one-fails", "uses": "noop", "needs": ["step-8"], "with": {"fail": True}})
    run = drain(start(eproject, template(name="long-chain", steps=steps), team_users.member))
    assert run.status == Run.Status.FAILED
    page = phone_page(browser)
    sign_in(page, team_users.member, daphne_server.url)
    page.goto(f"{daphne_server.url}/runs/{run.pk}/")
    expect(page.get_by_test_id("run-outcome")).to_contain_text("Failed at step last-one-fails")
    failed = page.locator('.timeline li[data-status="failed"]')
    box = failed.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    scroll, client = page.evaluate(MAIN_OVERFLOW)
    assert scroll <= client
    assert page.get_by_test_id("run-progress").get_attribute("aria-valuenow") != "100"
    page.context.close()
