from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from workflows.engine.supervisor import cluster_report_in
from workflows.models import WorkerCluster

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_is_alive_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_is_ready_when_every_part_answers(client, settings):
    cluster_report_in(name="worker-host:101", workers=2)
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == []
    expected = {f"database:{alias}" for alias in settings.DATABASES}
    expected |= {f"cache:{alias}" for alias in settings.CACHES} | {"channel_layer", "workers"}
    assert set(body["checks"]) == expected
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["workers"]["detail"] == "1 cluster alive"


def test_without_a_live_worker_it_answers_503_naming_the_workers(client):
    WorkerCluster.objects.create(
        name="gone:7", host="gone", pid=7, workers=2, last_seen=timezone.now() - timedelta(minutes=5)
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["workers"]
    assert "qcluster" in body["checks"]["workers"]["detail"]
    assert body["checks"]["database:default"]["ok"] is True


def test_a_broken_cache_is_named_and_its_error_stays_in_the_log(client, settings, caplog):
    cluster_report_in(name="worker-host:102", workers=2)
    # A file cache under /dev/null cannot create its directory: every write fails.
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": "/dev/null/smartspec-cache",
        },
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["cache:default"]
    assert body["checks"]["cache:default"]["detail"] == "NotADirectoryError (see the server log)"
    assert "/dev/null" not in response.content.decode()
    assert any("cache:default" in record.getMessage() for record in caplog.records)


def test_only_get_is_allowed(client):
    assert client.post("/readyz").status_code == 405
