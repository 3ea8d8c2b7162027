"""Per-user language: English by default, Thai when a user picks it, kept across sessions."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from accounts.models import Profile
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOCALE = Path(settings.BASE_DIR) / "locale" / "th" / "LC_MESSAGES"


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    """These tests sign in with a password; earlier tests must not have used up the limit."""
    caches["ratelimit"].clear()


def choose(client: Client, language: str, next_url: str = "/") -> object:
    return client.post(reverse("user_language"), {"language": language, "next": next_url}, follow=True)


def test_english_is_the_default(client, team_users, project):
    client.force_login(team_users.member)
    response = client.get(reverse("dashboard"))
    body = response.content.decode()
    assert '<html lang="en">' in body
    assert ">Dashboard</a>" in body and ">Approvals" in body and ">Workflows</a>" in body
    assert "แดชบอร์ด" not in body
    assert response["Content-Language"] == "en"
    assert not Profile.objects.exists()


def test_choosing_thai_persists_for_the_user_across_sessions(client, team_users, project):
    client.force_login(team_users.member)
    response = choose(client, "th")
    assert response.redirect_chain[-1][0] == "/"
    body = response.content.decode()
    assert "เปลี่ยนภาษาเป็นไทยแล้ว" in body  # the confirmation is already in Thai
    assert Profile.objects.get(user=team_users.member).language == "th"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "th"

    # A new session on another device: no cookie, an English browser. The choice follows the user.
    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    other.force_login(team_users.member)
    dashboard = other.get(reverse("dashboard"))
    body = dashboard.content.decode()
    assert dashboard["Content-Language"] == "th"
    assert '<html lang="th">' in body
    assert ">แดชบอร์ด</a>" in body and ">การอนุมัติ" in body and ">เวิร์กโฟลว์</a>" in body
    assert "รันที่กำลังทำงาน" in body  # "Active runs"
    assert ">Dashboard</a>" not in body

    page = other.get(reverse("project_detail", args=[project.slug])).content.decode()
    assert "<h2>สเปก</h2>" in page and "<h2>รันล่าสุด</h2>" in page
    assert "บอก autopilot ว่าต้องการให้ทำอะไร" in page  # the command box
    # Technical identifiers stay as they are.
    assert "spec-core-001-authentication" in page and "Acme web" in page

    # Signing out and in again keeps it too.
    other.post(reverse("logout"))
    other.post(reverse("login"), {"username": "member-user", "password": PASSWORD})
    assert ">แดชบอร์ด</a>" in other.get(reverse("dashboard")).content.decode()


def test_one_users_choice_does_not_change_anyone_elses(client, team_users, project):
    client.force_login(team_users.member)
    choose(client, "th")
    viewer = Client()
    viewer.force_login(team_users.viewer)
    body = viewer.get(reverse("dashboard")).content.decode()
    assert ">Dashboard</a>" in body and "แดชบอร์ด" not in body


def test_switching_back_to_english(client, team_users):
    client.force_login(team_users.member)
    choose(client, "th")
    response = choose(client, "en")
    body = response.content.decode()
    assert "Language changed to English." in body and ">Dashboard</a>" in body
    assert Profile.objects.get(user=team_users.member).language == "en"


def test_an_invalid_language_changes_nothing_and_says_so(client, team_users):
    client.force_login(team_users.member)
    response = choose(client, "klingon")
    body = response.content.decode()
    assert response.redirect_chain[-1][0] == "/"
    assert "“klingon” is not a language SmartSpec Autopilot offers; nothing was changed." in body
    assert ">Dashboard</a>" in body
    assert not Profile.objects.exists()
    assert settings.LANGUAGE_COOKIE_NAME not in client.cookies

    choose(client, "th")
    body = choose(client, "").content.decode()
    assert "SmartSpec Autopilot ไม่มีภาษา “”" in body  # said in the user's language
    assert Profile.objects.get(user=team_users.member).language == "th"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "th"


def test_a_saved_language_wins_over_the_browser_and_a_browser_language_works_without_one(client, team_users):
    Profile.objects.create(user=team_users.member, language="en")
    member = Client(HTTP_ACCEPT_LANGUAGE="th")
    member.force_login(team_users.member)
    assert ">Dashboard</a>" in member.get(reverse("dashboard")).content.decode()

    viewer = Client(HTTP_ACCEPT_LANGUAGE="th,en;q=0.8")
    viewer.force_login(team_users.viewer)
    assert ">แดชบอร์ด</a>" in viewer.get(reverse("dashboard")).content.decode()


def test_the_login_page_picker_sets_only_the_cookie(client, team_users):
    login_url = reverse("login") + "?next=/"
    page = client.get(login_url).content.decode()
    assert '<option value="th" lang="th">ไทย</option>' in page
    response = client.post(reverse("user_language"), {"language": "th", "next": login_url}, follow=True)
    assert response.redirect_chain[-1][0] == login_url
    body = response.content.decode()
    assert "<h1>เข้าสู่ระบบ</h1>" in body and "ชื่อผู้ใช้" in body
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "th"
    assert not Profile.objects.exists()

    # Signing in afterwards keeps the browser's choice, still without saving it for the user.
    response = client.post(login_url, {"username": "member-user", "password": PASSWORD}, follow=True)
    assert ">แดชบอร์ด</a>" in response.content.decode()
    assert not Profile.objects.exists()


def test_the_language_view_needs_post_and_a_csrf_token_and_stays_on_this_site(team_users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(team_users.member)
    assert client.get(reverse("user_language")).status_code == 405
    assert client.post(reverse("user_language"), {"language": "th"}).status_code == 403
    assert not Profile.objects.exists()

    client = Client()
    client.force_login(team_users.member)
    response = client.post(reverse("user_language"), {"language": "th", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")


def test_the_user_menu_offers_each_language_in_its_own_name(client, team_users):
    client.force_login(team_users.member)
    choose(client, "th")
    body = client.get(reverse("dashboard")).content.decode()
    assert 'action="/accounts/language/"' in body
    assert '<option value="en" lang="en">English</option>' in body
    assert '<option value="th" lang="th" selected>ไทย</option>' in body


def test_the_compiled_thai_catalogue_is_committed_complete_and_current():
    po = (LOCALE / "django.po").read_text(encoding="utf-8")
    with (LOCALE / "django.mo").open("rb") as mo:
        catalog = gettext.GNUTranslations(mo)._catalog  # type: ignore[attr-defined]
    entries = {key for key in catalog if key != ""}
    msgids = po.count("\nmsgid ") - 1  # minus the header
    assert len({k[0] if isinstance(k, tuple) else k for k in entries}) == msgids
    assert all(catalog[key] for key in entries), "every marked string has a Thai translation"
    assert 'msgstr ""\n\n' not in po.split("\n\n", 1)[1] + "\n\n"
    assert catalog["Dashboard"] == "แดชบอร์ด"
