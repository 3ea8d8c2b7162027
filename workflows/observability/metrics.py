"""Prometheus metrics at /metrics.

The workflow figures (runs by status, step durations, queue depth, approvals, events per
second) are read from the database at scrape time by a custom collector, so every web
process answers the same numbers whichever process did the work. HTTP latency is the one
per-process figure: each web process counts its own requests, so scrape each of them.

/metrics is not public: staff users (browser session or bearer token) and the addresses
or networks in METRICS_ALLOWED_IPS may read it.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from accounts.services import token_authenticate
from workflows.models import AgentUsage, ApprovalGate, Event, Run, Step, WorkerCluster

logger = logging.getLogger(__name__)

# Steps last from milliseconds (noop) to hours (agents, approvals).
STEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
EVENTS_WINDOW = timedelta(seconds=60)

# No auto_describe: it would run the database collector (queries) at registration.
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
HTTP_LATENCY = Histogram(
    "smartspec_http_request_duration_seconds",
    "Time to answer an HTTP request, in this web process.",
    ["method", "route", "status"],
    buckets=HTTP_BUCKETS,
    registry=REGISTRY,
)


class DatabaseCollector(Collector):
    """Workflow figures read from the database on every scrape."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("smartspec_database_up", "1 when the workflow figures could be read, else 0.")
        try:
            families = [family for read in READERS for family in read()]
        except DatabaseError as exc:
            # A scrape must still answer (with up=0) when the database is away.
            logger.warning("metrics: the database could not be read: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families


def runs_by_status() -> list[Metric]:
    family = GaugeMetricFamily("smartspec_runs", "Runs by status.", labels=["status"])
    counts = dict(Run.objects.values_list("status").annotate(n=Count("pk")).order_by())
    for status in Run.Status.values:
        family.add_metric([status], counts.get(status, 0))
    return [family]


def step_durations() -> list[Metric]:
    """A histogram by kind over every finished step, built with one grouped query."""
    elapsed = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    buckets = {
        f"le_{index}": Count("pk", filter=Q(elapsed__lte=timedelta(seconds=bound)))
        for index, bound in enumerate(STEP_BUCKETS)
    }
    rows = (
        Step.objects.filter(
            status__in=(Step.Status.SUCCEEDED, Step.Status.FAILED),
            started_at__isnull=False,
            finished_at__isnull=False,
        )
        .alias(elapsed=elapsed)
        .values("kind")
        .annotate(total=Count("pk"), seconds=Sum("elapsed"), **buckets)
        .order_by("kind")
    )
    family = HistogramMetricFamily(
        "smartspec_step_duration_seconds",
        "Execution time of finished steps (succeeded or failed), by kind.",
        labels=["kind"],
    )
    for row in cast(Iterable[dict[str, Any]], rows):
        counts = [(floatToGoString(bound), row[f"le_{i}"]) for i, bound in enumerate(STEP_BUCKETS)]
        total_seconds = row["seconds"].total_seconds() if row["seconds"] else 0.0
        family.add_metric([row["kind"]], [*counts, ("+Inf", row["total"])], sum_value=total_seconds)
    return [family]


def queue_depth() -> list[Metric]:
    family = GaugeMetricFamily("smartspec_queue_depth", "Steps queued for a worker.")
    family.add_metric([], Step.objects.filter(status=Step.Status.QUEUED).count())
    return [family]


def approvals() -> list[Metric]:
    pending = ApprovalGate.objects.filter(status=ApprovalGate.Status.PENDING).aggregate(
        n=Count("pk"), oldest=Min("created_at")
    )
    family = GaugeMetricFamily("smartspec_approvals_pending", "Approval gates waiting for a decision.")
    family.add_metric([], pending["n"])
    oldest = GaugeMetricFamily(
        "smartspec_approval_oldest_pending_age_seconds",
        "Age of the oldest pending approval gate (0 when none waits).",
    )
    oldest.add_metric([], _age_seconds(pending["oldest"]))
    return [family, oldest]


def _age_seconds(since: datetime | None) -> float:
    return max((timezone.now() - since).total_seconds(), 0.0) if since is not None else 0.0


def events_per_second() -> list[Metric]:
    family = GaugeMetricFamily(
        "smartspec_events_per_second", "Run events written over the last minute, per second."
    )
    family.add_metric([], events_since(timezone.now() - EVENTS_WINDOW) / EVENTS_WINDOW.seconds)
    return [family]


def events_since(cutoff: datetime) -> int:
    """Events created at or after `cutoff`.

    The event table has no index on created_at and grows fastest of all; ids follow time,
    so a binary search over the primary key finds the first recent event in a few index
    lookups, and only the recent range is counted.
    """
    events = Event.objects.order_by("pk").values_list("pk", "created_at")
    last = events.reverse().first()
    if last is None or last[1] < cutoff:
        return 0
    low, high = 0, last[0]
    while low < high:
        middle = (low + high) // 2
        row = events.filter(pk__gte=middle).first()
        if row is None or row[1] >= cutoff:
            high = middle
        else:
            low = row[0] + 1
    return Event.objects.filter(pk__gte=low, created_at__gte=cutoff).count()


def worker_clusters() -> list[Metric]:
    alive = WorkerCluster.objects.alive()
    family = GaugeMetricFamily(
        "smartspec_worker_clusters_alive", "Worker clusters that reported in recently."
    )
    family.add_metric([], alive.count())
    return [family]


def agent_usage() -> list[Metric]:
    """Tokens, cost and wall-clock time of agent step attempts, by project: one grouped query."""
    buckets = {
        f"le_{index}": Count("pk", filter=Q(seconds__lte=bound)) for index, bound in enumerate(STEP_BUCKETS)
    }
    rows = (
        AgentUsage.objects.values("project__slug")
        .annotate(
            n=Count("pk"),
            tokens_in=Sum("input_tokens"),
            tokens_out=Sum("output_tokens"),
            usd=Sum("cost"),
            no_cost=Count("pk", filter=Q(cost__isnull=True)),
            time=Sum("seconds"),
            **buckets,
        )
        .order_by("project__slug")
    )
    tokens = CounterMetricFamily(
        "smartspec_agent_tokens",
        "Tokens agent steps reported, by project and direction (in: prompt, out: completion).",
        labels=["project", "direction"],
    )
    cost = CounterMetricFamily(
        "smartspec_agent_cost_usd", "Known cost of agent steps in USD, by project.", labels=["project"]
    )
    unpriced = CounterMetricFamily(
        "smartspec_agent_steps_unpriced",
        "Agent step attempts whose cost is unknown (no cost reported, no prices set), by project.",
        labels=["project"],
    )
    seconds = HistogramMetricFamily(
        "smartspec_agent_step_duration_seconds",
        "Wall-clock time of agent step attempts, reported usage or not, by project.",
        labels=["project"],
    )
    for row in cast(Iterable[dict[str, Any]], rows):
        project = row["project__slug"]
        tokens.add_metric([project, "in"], row["tokens_in"] or 0)
        tokens.add_metric([project, "out"], row["tokens_out"] or 0)
        cost.add_metric([project], float(row["usd"] or 0))
        unpriced.add_metric([project], row["no_cost"])
        counts = [(floatToGoString(bound), row[f"le_{i}"]) for i, bound in enumerate(STEP_BUCKETS)]
        seconds.add_metric([project], [*counts, ("+Inf", row["n"])], sum_value=row["time"] or 0.0)
    return [tokens, cost, unpriced, seconds]


READERS = [
    runs_by_status,
    step_durations,
    queue_depth,
    approvals,
    events_per_second,
    worker_clusters,
    agent_usage,
]
REGISTRY.register(DatabaseCollector())


# --- HTTP latency ----------------------------------------------------------------------------


def _route(request: HttpRequest) -> str:
    """The URL pattern, not the path: one series per route, whatever the ids in it."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return str(match.route)
    if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return "static"
    return "unmatched"


class RequestLatencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in HTTP_METHODS else "other"
        HTTP_LATENCY.labels(method, _route(request), str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response


# --- The endpoint ------------------------------------------------------------------------------


def _address_allowed(raw: str) -> bool:
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(
        address in ipaddress.ip_network(network, strict=False) for network in settings.METRICS_ALLOWED_IPS
    )


def _staff_token(request: HttpRequest) -> bool:
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return False
    user = token_authenticate(raw.strip())
    return bool(user is not None and user.is_staff)


def metrics_allowed(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    return _address_allowed(request.META.get("REMOTE_ADDR", "")) or _staff_token(request)
