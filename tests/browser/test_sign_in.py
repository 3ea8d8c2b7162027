from __future__ import annotations

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_demo_member_signs_in_sees_the_dashboard_and_signs_out(page, daphne_server, data_dir, settings):
    call_command("seed_demo")
    page.goto(daphne_server.url + "/")
    expect(page).to_have_url(daphne_server.url + "/accounts/login/?next=/")
    page.get_by_label("Username").fill("demo-member")
    page.get_by_label("Password").fill(settings.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_test_id("signed-in-user")).to_have_text("demo-member")
    expect(page.get_by_role("link", name="Demo bookshop")).to_be_visible()
    page.get_by_test_id("signed-in-user").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(daphne_server.url + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_wrong_password_shows_an_error_in_the_browser(page, daphne_server, team_users):
    page.goto(daphne_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("member-user")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("did not match")
