from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import ApiToken, AuditEntry, hash_token
from accounts.services import token_authenticate, token_create, token_revoke

pytestmark = pytest.mark.django_db


def test_it_prints_the_token_once_and_stores_only_its_hash(team_users, capsys):
    call_command("create_api_token", "member-user", name="CI")
    raw = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(user=team_users.member)
    assert raw.startswith("ssp_") and len(raw) > 40
    assert token.name == "CI"
    assert token.token_hash == hash_token(raw)
    assert raw not in {token.token_hash, token.hint, token.name}
    assert AuditEntry.objects.filter(action="accounts.token.created", channel="cli").exists()


def test_it_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_api_token", "ghost")
    assert not ApiToken.objects.exists()


def test_it_authenticates_and_records_last_use(team_users):
    _, raw = token_create(user=team_users.member, name="t", channel="web")
    assert token_authenticate(raw) == team_users.member
    assert ApiToken.objects.get().last_used_at is not None
    assert token_authenticate(raw + "x") is None
    assert token_authenticate("not-a-token") is None


def test_a_revoked_token_stops_working(team_users):
    token, raw = token_create(user=team_users.member, name="t", channel="web")
    assert token_revoke(token=token, by=team_users.member, channel="web")
    assert token_authenticate(raw) is None
    assert not token_revoke(token=token, by=team_users.member, channel="web")


def test_an_inactive_users_token_does_not_work(team_users):
    _, raw = token_create(user=team_users.member, name="t", channel="web")
    team_users.member.is_active = False
    team_users.member.save()
    assert token_authenticate(raw) is None


def test_the_tokens_page_shows_a_new_token_once(client, team_users):
    client.force_login(team_users.member)
    response = client.post(reverse("tokens"), {"name": "laptop"})
    assert response.status_code == 200
    raw = response.context["raw_token"]
    assert raw and raw in response.content.decode()
    again = client.get(reverse("tokens"))
    assert raw not in again.content.decode()
    assert "laptop" in again.content.decode()


def test_the_tokens_page_rejects_an_empty_name(client, team_users):
    client.force_login(team_users.member)
    response = client.post(reverse("tokens"), {"name": ""})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_one_cannot_revoke_another_users_token(client, team_users):
    token, _ = token_create(user=team_users.admin, name="t", channel="web")
    client.force_login(team_users.member)
    response = client.post(reverse("token_revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.is_active


def test_revoking_from_the_page(client, team_users):
    token, raw = token_create(user=team_users.member, name="t", channel="web")
    client.force_login(team_users.member)
    response = client.post(reverse("token_revoke", args=[token.pk]), follow=True)
    assert "revoked" in response.content.decode()
    assert token_authenticate(raw) is None
