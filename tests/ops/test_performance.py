from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from tests.ops.conftest import finished_run
from workflows.models import Run, Step
from workflows.observability.performance import percentile
from workflows.specs import project_specs

pytestmark = pytest.mark.django_db(databases="__all__")
URL = "/ops/performance/"


@pytest.fixture
def staff(db):
    return User.objects.create_user("ops-staff", is_staff=True)


def test_anonymous_callers_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_is_closed_to_non_staff(client, team_users):
    client.force_login(team_users.admin)  # a team admin, but not staff
    assert client.get(URL).status_code == 403


def test_staff_see_slow_workflows_step_kinds_waits_and_cache_rates(client, staff, eproject, project):
    slow, quick = finished_run(eproject, name="ops-slow"), finished_run(eproject, name="ops-quick")
    now = timezone.now()
    Run.objects.filter(pk=slow.pk).update(started_at=now - timedelta(seconds=90), finished_at=now)
    Run.objects.filter(pk=quick.pk).update(started_at=now - timedelta(seconds=2), finished_at=now)
    Step.objects.filter(run=slow).update(
        enqueued_at=now - timedelta(seconds=30), started_at=now - timedelta(seconds=10), finished_at=now
    )
    project_specs(project)  # one miss, then
    project_specs(project)  # one hit in this process's status cache
    client.force_login(staff)

    response = client.get(URL, {"runs": 50})

    assert response.status_code == 200
    body = response.content.decode()
    assert body.index("ops-slow") < body.index("ops-quick")  # slowest first
    workflows = {t.name: t for t in response.context["workflows"]}
    assert workflows["ops-slow"].p95 == pytest.approx(90, abs=0.5)
    assert workflows["ops-slow"].bar95 == pytest.approx(100)
    noop = response.context["step_kinds"][0]
    assert noop.kind == "noop" and noop.wait is not None
    assert noop.run.p95 == pytest.approx(10, abs=0.5) and noop.wait.p95 == pytest.approx(20, abs=0.5)
    assert 60 < noop.wait_share < 70
    cache = response.context["cache"]
    assert cache["hits"] >= 1 and cache["misses"] >= 1
    assert 'data-testid="cache-hit-rate"' in body and " hits, " in body


def test_a_bad_window_is_a_400_not_a_500(client, staff):
    client.force_login(staff)
    for bad in ("many", "0", "100000"):
        response = client.get(URL, {"runs": bad})
        assert response.status_code == 400, bad
        assert "from 10 to 5000" in response.content.decode()


def test_percentiles_interpolate():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert percentile(values, 0.5) == 3.0
    assert percentile(values, 0.95) == pytest.approx(4.8)
    assert percentile([], 0.5) == 0.0
