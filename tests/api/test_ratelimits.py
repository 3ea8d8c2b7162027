"""Rate-limit tiers on the API: reads relaxed, writes moderate, staff service tokens free."""

from __future__ import annotations

import pytest

from tests.api.conftest import API

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_limits(settings):
    # Per hour: django-ratelimit counts in fixed windows, and a test that crossed into the
    # next window (as one per minute sometimes did) would see its count start again.
    settings.RATELIMITS = {**settings.RATELIMITS, "relaxed": "3/h", "moderate": "2/h"}
    settings.RATELIMIT_ENABLE = True


def test_reads_answer_429_with_retry_after_past_the_relaxed_tier(as_user, team_users, small_limits):
    reader = as_user(team_users.viewer)
    for _ in range(3):
        assert reader.get("/me").status_code == 200
    response = reader.get("/projects")  # one budget for every read of the API
    assert response.status_code == 429
    assert response.json() == {
        "detail": f"Too many requests; try again in {response['Retry-After']} s.",
        "code": "rate_limited",
    }
    assert 1 <= int(response["Retry-After"]) <= 3600


def test_writes_have_their_own_moderate_budget(as_user, team_users, project, small_limits):
    writer = as_user(team_users.member)
    for _ in range(2):
        assert writer.post("/intents", {"text": "status"}).status_code == 200
    assert writer.post("/intents", {"text": "status"}).status_code == 429
    assert writer.get("/me").status_code == 200  # reads still have room


def test_the_budget_is_per_user(as_user, team_users, small_limits):
    for _ in range(3):
        as_user(team_users.viewer).get("/me")
    assert as_user(team_users.viewer).get("/me").status_code == 429  # a new token, same user
    assert as_user(team_users.member).get("/me").status_code == 200


def test_staff_service_tokens_are_not_limited(as_user, team_users, small_limits):
    team_users.admin.is_staff = True
    team_users.admin.save()
    service = as_user(team_users.admin)
    for _ in range(10):
        assert service.get("/me").status_code == 200


def test_a_staff_members_browser_session_is_still_limited(client, team_users, small_limits):
    team_users.admin.is_staff = True
    team_users.admin.save()
    client.force_login(team_users.admin)
    codes = [client.get(f"{API}/me").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_limits_can_be_switched_off(as_user, team_users, small_limits, settings):
    settings.RATELIMIT_ENABLE = False
    reader = as_user(team_users.viewer)
    assert all(reader.get("/me").status_code == 200 for _ in range(6))
