from __future__ import annotations

from django.urls import path

from workflows.observability import health, metrics, performance

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("ops/performance/", performance.performance, name="ops_performance"),
]
