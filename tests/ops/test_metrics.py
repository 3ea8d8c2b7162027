from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from accounts.services import token_create
from tests.ops.conftest import finished_run, pending_gate
from workflows.engine.supervisor import cluster_report_in
from workflows.models import Event, Step
from workflows.observability.metrics import events_since

pytestmark = pytest.mark.django_db(databases="__all__")
OUTSIDE = "203.0.113.9"


def samples(response) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert response.status_code == 200, response.content
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_it_reports_runs_steps_queue_approvals_events_and_latency(client, eproject, team_users):
    finished_run(eproject, steps=3)
    gate = pending_gate(eproject, team_users.member)
    gate.__class__.objects.filter(pk=gate.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    Step.objects.filter(kind="noop").update(
        started_at=timezone.now() - timedelta(seconds=3), finished_at=timezone.now()
    )
    cluster_report_in(name="metrics-host:1", workers=2)
    client.get("/healthz")

    found = samples(client.get("/metrics"))

    assert found[("smartspec_database_up", ())] == 1
    assert found[("smartspec_runs", (("status", "succeeded"),))] == 1
    assert found[("smartspec_runs", (("status", "waiting"),))] == 1
    assert found[("smartspec_runs", (("status", "failed"),))] == 0
    noop = (("kind", "noop"),)
    assert found[("smartspec_step_duration_seconds_count", noop)] == 4
    assert found[("smartspec_step_duration_seconds_bucket", (*noop, ("le", "2.5")))] == 0
    assert found[("smartspec_step_duration_seconds_bucket", (*noop, ("le", "5.0")))] == 4
    assert found[("smartspec_step_duration_seconds_sum", noop)] == pytest.approx(12, abs=0.5)
    assert found[("smartspec_queue_depth", ())] == 0
    assert found[("smartspec_approvals_pending", ())] == 1
    assert 590 < found[("smartspec_approval_oldest_pending_age_seconds", ())] < 700
    assert found[("smartspec_events_per_second", ())] == pytest.approx(Event.objects.count() / 60)
    assert found[("smartspec_worker_clusters_alive", ())] == 1
    latency = (("method", "GET"), ("route", "healthz"), ("status", "200"))
    assert found[("smartspec_http_request_duration_seconds_count", latency)] >= 1


def test_events_per_second_counts_only_the_last_minute(eproject):
    run = finished_run(eproject)
    Event.objects.filter(run=run).update(created_at=timezone.now() - timedelta(minutes=5))
    recent = Event.objects.filter(run=run).order_by("pk")[3:]
    Event.objects.filter(pk__in=[e.pk for e in recent]).update(created_at=timezone.now())
    total = Event.objects.filter(run=run).count()
    assert events_since(timezone.now() - timedelta(seconds=60)) == total - 3
    assert events_since(timezone.now() + timedelta(seconds=1)) == 0


def test_strangers_get_403(client, team_users):
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 403
    assert "METRICS_ALLOWED_IPS" in response.content.decode()
    client.force_login(team_users.member)
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 403


def test_staff_may_read_them_with_a_session_or_a_token(client, team_users):
    staff = User.objects.create_user("ops-staff", is_staff=True)
    _, staff_token = token_create(user=staff, name="prometheus", channel="system")
    _, member_token = token_create(user=team_users.member, name="nosy", channel="system")
    bearer = {"REMOTE_ADDR": OUTSIDE}
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {staff_token}", **bearer).status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {member_token}", **bearer).status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ssp_forged", **bearer).status_code == 403
    client.force_login(staff)
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 200


def test_allowed_networks_come_from_settings(client, settings):
    settings.METRICS_ALLOWED_IPS = ["203.0.113.0/24"]
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="::ffff:203.0.113.40").status_code == 200
