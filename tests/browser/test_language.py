from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_a_member_picks_thai_in_the_user_menu_on_a_phone(browser, daphne_server, team_users, project):
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, team_users.member, daphne_server.url)
    page.goto(daphne_server.url + "/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Dashboard")).to_be_visible()

    page.get_by_test_id("signed-in-user").click()
    picker = page.get_by_label("Language")
    expect(picker).to_be_visible()
    assert overflow(page) <= 1, "the open user menu is wider than a phone"
    picker.select_option(label="ไทย")
    page.get_by_role("button", name="Save").click()

    expect(page.locator("html")).to_have_attribute("lang", "th")
    nav = page.get_by_role("navigation", name="เมนูหลัก")
    expect(nav.get_by_role("link", name="แดชบอร์ด")).to_be_visible()
    expect(nav.get_by_role("link", name="การอนุมัติ")).to_be_visible()
    expect(nav.get_by_role("link", name="เวิร์กโฟลว์")).to_be_visible()
    expect(page.get_by_role("heading", name="แดชบอร์ด")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("เปลี่ยนภาษาเป็นไทยแล้ว")
    assert overflow(page) <= 1, "the Thai dashboard is wider than a phone"

    page.get_by_role("link", name="Acme web").click()
    expect(page.get_by_role("heading", name="สเปก")).to_be_visible()
    assert overflow(page) <= 1, "the Thai project page is wider than a phone"
    page.get_by_test_id("signed-in-user").click()
    expect(page.get_by_label("ภาษา")).to_have_value("th")
    assert overflow(page) <= 1, "the open Thai user menu is wider than a phone"
    context.close()
