"""The operations endpoints: liveness, readiness, Prometheus metrics and the staff
performance page. What they report is computed in workflows/observability/."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client.exposition import choose_encoder

from accounts.middleware import StaffOnly
from workflows.observability.health import all_checks, run_check
from workflows.observability.metrics import REGISTRY, metrics_allowed
from workflows.observability.performance import (
    DEFAULT_RUNS,
    cache_rates,
    recent_runs,
    step_kind_timings,
    workflow_timings,
)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, dict[str, object]] = {}
    for name, check in all_checks():
        checks[name] = run_check(name, check)
    failing = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "unavailable" if failing else "ok", "failing": failing, "checks": checks}
    return JsonResponse(body, status=503 if failing else 200)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponseForbidden(
            "Metrics are for staff users (session or bearer token) and the addresses in METRICS_ALLOWED_IPS.",
            content_type="text/plain; charset=utf-8",
        )
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(REGISTRY), content_type=content_type)


class PerformanceQuery(forms.Form):
    runs = forms.IntegerField(min_value=10, max_value=5000, required=False)


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous callers go to the sign-in page; signed-in non-staff get 403."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:  # type: ignore[union-attr]
            raise StaffOnly("The performance page is for staff users.")
        return view(request, *args, **kwargs)

    return wrapper


@require_GET
@staff_required
def performance(request: HttpRequest) -> HttpResponse:
    query = PerformanceQuery(request.GET)
    if not query.is_valid():
        context = {"errors": query.errors, "limit": DEFAULT_RUNS}
        return render(request, "ops/performance.html", context, status=400)
    limit = query.cleaned_data["runs"] or DEFAULT_RUNS
    runs = recent_runs(limit)
    context = {
        "limit": limit,
        "run_count": len(runs),
        "workflows": workflow_timings(runs),
        "step_kinds": step_kind_timings([pk for pk, _, _ in runs]),
        "cache": cache_rates(),
    }
    return render(request, "ops/performance.html", context)
