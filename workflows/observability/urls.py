from __future__ import annotations

from django.urls import path

from workflows.views import ops

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics_view, name="metrics"),
    path("ops/performance/", ops.performance, name="ops_performance"),
]
