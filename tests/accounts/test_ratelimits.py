from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rate_counters")]


def test_login_is_strict_per_ip_and_answers_429_with_retry_after(client, team_users, settings):
    settings.RATELIMITS = {**settings.RATELIMITS, "strict": "10/h"}
    for _ in range(10):
        response = client.post(reverse("login"), {"username": "member-user", "password": "bad"})
        assert response.status_code == 200
    response = client.post(reverse("login"), {"username": "member-user", "password": "bad"})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert "Too many requests" in response.content.decode()
    # Reading the page is not a login attempt.
    assert client.get(reverse("login")).status_code == 200


def test_password_reset_is_rate_limited(client, db, settings):
    settings.RATELIMITS = {**settings.RATELIMITS, "strict": "2/h"}
    for _ in range(2):
        assert client.post(reverse("password_reset"), {"email": "x@example.com"}).status_code == 302
    response = client.post(reverse("password_reset"), {"email": "x@example.com"})
    assert response.status_code == 429
    assert response.has_header("Retry-After")
