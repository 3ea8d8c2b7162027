from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_it_signs_in_and_out(client, team_users):
    response = client.post(reverse("login"), {"username": "member-user", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert "member-user" in response.content.decode()
    response = client.post(reverse("logout"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("login")
    assert client.get(reverse("dashboard")).status_code == 302


def test_a_wrong_password_says_so_and_signs_nobody_in(client, team_users):
    response = client.post(reverse("login"), {"username": "member-user", "password": "nope"})
    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_pages_need_a_signed_in_user(client, db):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_changes_the_password(client, team_users):
    client.force_login(team_users.member)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-long-secret",
            "new_password2": "a-new-long-secret",
        },
    )
    assert response.status_code == 302
    team_users.member.refresh_from_db()
    assert team_users.member.check_password("a-new-long-secret")


def test_a_wrong_old_password_changes_nothing(client, team_users):
    client.force_login(team_users.member)
    response = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": "a-new-long-secret", "new_password2": "a-new-long-secret"},
    )
    assert response.status_code == 200
    team_users.member.refresh_from_db()
    assert team_users.member.check_password(PASSWORD)


def test_it_resets_a_password_by_email_through_a_real_smtp_server(client, team_users, smtp_server):
    response = client.post(reverse("password_reset"), {"email": "member-user@example.com"})
    assert response.status_code == 302
    assert len(smtp_server) == 1
    message = smtp_server[0]
    assert message.rcpt_tos == ["member-user@example.com"]
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/)", message.text())
    assert link is not None
    response = client.get(link.group(1), follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(
        form_url, {"new_password1": "brand-new-secret-1", "new_password2": "brand-new-secret-1"}
    )
    assert response.status_code == 302
    assert User.objects.get(username="member-user").check_password("brand-new-secret-1")
    # The link works once.
    response = client.get(link.group(1), follow=True)
    assert "no longer works" in response.content.decode()


def test_team_switcher_only_switches_to_my_teams(client, team_users):
    client.force_login(team_users.member)
    response = client.post(reverse("team_switch"), {"team": team_users.other_team.pk}, follow=True)
    assert "not a member of that team" in response.content.decode()
    assert response.context["current_team"] == team_users.team
