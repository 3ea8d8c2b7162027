"""A reviewer in real Chromium reads what the agent changed on the review gate's page,
with the verification of the tasks it touched, and approves the merge."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.git_repos import make_repo, sh
from tests.workflows.engine.conftest import drain
from tests.workflows.engine.test_review_gates import VIEWS, gate_of, review_flow
from workflows.engine import git_runs
from workflows.models import Project

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


@pytest.fixture
def demo(db: None) -> Iterator[Project]:
    """The demo, seeded where the server process reads it, its workspace a git repository."""
    call_command("seed_demo", "--reset-workspace")
    project = Project.objects.get(slug="demo")
    make_repo(Path(project.workspace))
    yield project
    shutil.rmtree(project.workspace, ignore_errors=True)


def test_the_review_gate_page_shows_the_agents_diff_and_approving_merges_it(
    page, daphne_server, demo
) -> None:  # type: ignore[no-untyped-def]
    repo = Path(demo.workspace)
    base = sh("rev-parse", "main", cwd=repo).strip()
    run = review_flow(demo)
    try:
        gate = gate_of(run)
        sign_in(page, User.objects.get(username="demo-approver"), daphne_server.url)
        page.goto(f"{daphne_server.url}/approvals/{gate.pk}/")
        review = page.get_by_test_id("review")
        changed = review.locator(f'details.diff-file[data-path="{VIEWS}"]')
        expect(changed).to_be_visible()
        expect(changed.locator("pre.diff .diff-add").last).to_contain_text("TSK-AUTH-003: ratelimit")
        expect(review.get_by_test_id("review-tasks").locator('tr[data-task="TSK-AUTH-002"]')).to_contain_text(
            "verified"
        )
        expect(review.get_by_test_id("review-merge")).to_contain_text("with a merge commit")
        assert sh("rev-parse", "main", cwd=repo).strip() == base

        page.get_by_test_id("decide-form").get_by_role("button", name="Approve").click()
        expect(page.get_by_test_id("review-merged")).to_contain_text("merged into main")
        assert sh("log", "-1", "--format=%P", "main", cwd=repo).split()[0] == base
        assert drain(run).status == "succeeded"
    finally:
        shutil.rmtree(git_runs.run_worktree_dir(run.pk), ignore_errors=True)


def test_the_run_pages_changes_show_the_python_the_agent_wrote_highlighted(page, daphne_server, demo) -> None:  # type: ignore[no-untyped-def]
    run = review_flow(demo)
    try:
        sign_in(page, User.objects.get(username="demo-member"), daphne_server.url)
        page.goto(f"{daphne_server.url}/runs/{run.pk}/")
        views = page.get_by_test_id("changes").locator(f'details.diff-file[data-path="{VIEWS}"]')
        keyword = views.locator("pre.diff .diff-ctx .tok-k").first
        expect(keyword).to_have_text("def")
        comment = views.locator("pre.diff .diff-add .tok-c1").last
        expect(comment).to_have_text("# TSK-AUTH-003: ratelimit")
        # Coloured by the page's style: not the colour of the plain text of its line.
        colour = "e => getComputedStyle(e).color"
        for token in (keyword, comment):
            assert token.evaluate(colour) != token.locator("xpath=..").evaluate(colour)

        # Side by side: the old and new lines face each other, still highlighted, and the
        # choice holds on the review gate's page too.
        page.get_by_test_id("diff-views").get_by_role("link", name="Side by side").click()
        views = page.get_by_test_id("changes").locator(f'details.diff-file[data-path="{VIEWS}"]')
        expect(views.locator("table.diff-split td.diff-add .tok-c1").last).to_have_text(
            "# TSK-AUTH-003: ratelimit"
        )
        expect(views.locator("table.diff-split td.diff-ctx .tok-k").first).to_have_text("def")
        assert views.locator("pre.diff").count() == 0
        page.goto(f"{daphne_server.url}/approvals/{gate_of(run).pk}/")
        review = page.get_by_test_id("review")
        expect(review.locator("table.diff-split").first).to_be_visible()
        expect(review.get_by_test_id("diff-views").locator('[aria-current="true"]')).to_have_text(
            "Side by side"
        )
    finally:
        shutil.rmtree(git_runs.run_worktree_dir(run.pk), ignore_errors=True)


def test_a_reviewer_quotes_a_line_by_its_number_and_the_rework_prompt_carries_it(
    page, daphne_server, demo
) -> None:  # type: ignore[no-untyped-def]
    run = review_flow(demo)
    try:
        gate = gate_of(run)
        sign_in(page, User.objects.get(username="demo-approver"), daphne_server.url)
        page.goto(f"{daphne_server.url}/approvals/{gate.pk}/")
        views = page.get_by_test_id("review").locator(f'details.diff-file[data-path="{VIEWS}"]')
        comment = page.get_by_test_id("decide-form").locator("textarea[name=comment]")
        # The added line's new number, in the unified view.
        views.locator('pre.diff .diff-add .ln[data-new="5"]').click()
        expect(comment).to_have_value(f"{VIEWS}:5\n> # TSK-AUTH-003: ratelimit\n")
        expect(comment).to_be_focused()
        page.keyboard.type("Use the limiter here, not a comment.")
        # A line before the change, by its old number, side by side.
        page.get_by_test_id("diff-views").get_by_role("link", name="Side by side").click()
        comment = page.get_by_test_id("decide-form").locator("textarea[name=comment]")
        views = page.get_by_test_id("review").locator(f'details.diff-file[data-path="{VIEWS}"]')
        # The comment written so far came along to the new page.
        first = f"{VIEWS}:5\n> # TSK-AUTH-003: ratelimit\nUse the limiter here, not a comment."
        expect(comment).to_have_value(first)
        views.locator('td.diff-num[data-old="1"]').click()
        expect(comment).to_have_value(f"{first}\n{VIEWS}:1 (before the change)\n> def login(request):\n")
        page.keyboard.type("Keep this signature.")
        page.get_by_test_id("decide-form").get_by_role("button", name="Reject").click()
        expect(page.get_by_test_id("gate-history")).to_contain_text("Keep this signature.")
        rework = run.steps.get(key="implement-rework-1")
        prompt = rework.config["prompt"]
        assert f"{VIEWS}:5\n  > # TSK-AUTH-003: ratelimit\n  Use the limiter here, not a comment." in prompt
        assert f"{VIEWS}:1 (before the change)\n  > def login(request):\n  Keep this signature." in prompt
        # Sent: the draft is gone, so the next review starts with an empty comment.
        page.goto(f"{daphne_server.url}/approvals/{gate.pk}/")
        drafts = "Object.keys(sessionStorage).filter(k => k.startsWith('smartspec:comment:'))"
        assert page.evaluate(drafts) == []
    finally:
        shutil.rmtree(git_runs.run_worktree_dir(run.pk), ignore_errors=True)
