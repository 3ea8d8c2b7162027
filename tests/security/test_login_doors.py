"""Every door that checks a password shares one strict limit per IP (accounts/ratelimits.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rate_counters")]

LIMIT = 5
ACCOUNTS_LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
PASSWORD_CHANGE = "/accounts/password/change/"


@pytest.fixture(autouse=True)
def strict_limit(settings: pytest.FixtureRequest) -> None:
    settings.RATELIMITS = {**settings.RATELIMITS, "strict": f"{LIMIT}/h"}  # type: ignore[attr-defined]


@pytest.fixture
def staff() -> User:
    return make_user("ops", is_staff=True, is_superuser=True)


def _wrong(client: Client, door: str, username: str = "ops") -> int:
    return client.post(door, {"username": username, "password": "wrong"}).status_code


def test_wrong_passwords_at_the_admin_login_hit_the_strict_limit(staff: User) -> None:
    client = Client()
    for _ in range(LIMIT):
        assert _wrong(client, ADMIN_LOGIN) == 200
    response = client.post(ADMIN_LOGIN, {"username": "ops", "password": PASSWORD})
    assert response.status_code == 429  # even the right password waits: no oracle
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert "_auth_user_id" not in client.session


def test_the_admin_login_still_signs_staff_in_under_the_limit(staff: User) -> None:
    client = Client()
    assert _wrong(client, ADMIN_LOGIN) == 200
    response = client.post(ADMIN_LOGIN, {"username": "ops", "password": PASSWORD})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(staff.pk)
    assert client.get(ADMIN_LOGIN).status_code != 429  # reading the page is not an attempt


@pytest.mark.parametrize(
    ("first", "then"),
    [(ACCOUNTS_LOGIN, ADMIN_LOGIN), (ADMIN_LOGIN, ACCOUNTS_LOGIN)],
)
def test_the_doors_share_one_counter(staff: User, first: str, then: str) -> None:
    client = Client()
    for _ in range(LIMIT):
        assert _wrong(client, first) == 200
    response = client.post(then, {"username": "ops", "password": PASSWORD})
    assert response.status_code == 429
    assert response.has_header("Retry-After")


def test_a_mix_of_doors_counts_every_attempt(staff: User) -> None:
    client = Client()
    doors = [ACCOUNTS_LOGIN, ADMIN_LOGIN] * LIMIT
    assert [_wrong(client, door) for door in doors[:LIMIT]] == [200] * LIMIT
    assert _wrong(client, doors[LIMIT]) == 429


def test_the_password_change_form_is_a_door_too(staff: User) -> None:
    client = Client()
    client.force_login(staff)
    for _ in range(LIMIT):
        wrong = {
            "old_password": "guess",
            "new_password1": "N3w-pass-phrase",
            "new_password2": "N3w-pass-phrase",
        }
        assert client.post(PASSWORD_CHANGE, wrong).status_code == 200
    assert _wrong(client, ADMIN_LOGIN) == 429


def test_the_limit_is_per_ip(staff: User) -> None:
    attacker, other = Client(REMOTE_ADDR="203.0.113.7"), Client(REMOTE_ADDR="203.0.113.8")
    for _ in range(LIMIT):
        assert _wrong(attacker, ADMIN_LOGIN) == 200
    assert _wrong(attacker, ACCOUNTS_LOGIN) == 429
    assert other.post(ADMIN_LOGIN, {"username": "ops", "password": PASSWORD}).status_code == 302


def test_password_reset_keeps_a_counter_of_its_own(staff: User) -> None:
    client = Client()
    for _ in range(LIMIT):
        assert _wrong(client, ACCOUNTS_LOGIN) == 200
    assert client.post("/accounts/password/reset/", {"email": "x@example.com"}).status_code == 302
