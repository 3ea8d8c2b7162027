"""Where time goes, for staff, without reading logs: the figures of /ops/performance/
(its view is in workflows/views/ops.py).

Over the last N finished runs: the slowest workflows and step kinds by p50/p95 duration,
how long steps waited in the queue (started_at − enqueued_at) against how long they ran,
and the hit rates of this web process's spec status caches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workflows.models import Run, Step
from workflows.specs import cache_stats

DEFAULT_RUNS = 200


@dataclass(frozen=True)
class Timing:
    """p50/p95/max of one group, in seconds, with its bar widths (percent of the page's
    longest p95)."""

    name: str
    count: int
    p50: float
    p95: float
    longest: float
    bar50: float = 0.0
    bar95: float = 0.0


@dataclass(frozen=True)
class StepKindTiming:
    kind: str
    run: Timing
    wait: Timing | None
    wait_share: float  # percent of (wait + execution) spent waiting


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks; `values` must be sorted."""
    if not values:
        return 0.0
    position = (len(values) - 1) * q
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def timing(name: str, seconds: Iterable[float]) -> Timing:
    ordered = sorted(seconds)
    return Timing(
        name,
        len(ordered),
        percentile(ordered, 0.5),
        percentile(ordered, 0.95),
        ordered[-1] if ordered else 0.0,
    )


def with_bars(timings: list[Timing]) -> list[Timing]:
    scale = max((t.p95 for t in timings), default=0.0) or 1.0
    return [
        Timing(t.name, t.count, t.p50, t.p95, t.longest, 100 * t.p50 / scale, 100 * t.p95 / scale)
        for t in timings
    ]


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def recent_runs(limit: int) -> list[tuple[int, str, float]]:
    """(id, workflow, seconds) of the last `limit` finished runs that started."""
    rows = (
        Run.objects.filter(status__in=Run.FINISHED, started_at__isnull=False, finished_at__isnull=False)
        .order_by("-finished_at", "-id")
        .values_list("pk", "workflow_name", "started_at", "finished_at")[:limit]
    )
    return [(pk, name, _seconds(start, end) or 0.0) for pk, name, start, end in rows]


def workflow_timings(runs: list[tuple[int, str, float]]) -> list[Timing]:
    by_name: dict[str, list[float]] = defaultdict(list)
    for _, name, seconds in runs:
        by_name[name].append(seconds)
    timings = [timing(name, values) for name, values in by_name.items()]
    return with_bars(sorted(timings, key=lambda t: t.p95, reverse=True))


def step_kind_timings(run_ids: list[int]) -> list[StepKindTiming]:
    executed: dict[str, list[float]] = defaultdict(list)
    waited: dict[str, list[float]] = defaultdict(list)
    rows = Step.objects.filter(
        run_id__in=run_ids,
        status__in=(Step.Status.SUCCEEDED, Step.Status.FAILED),
        started_at__isnull=False,
        finished_at__isnull=False,
    ).values_list("kind", "enqueued_at", "started_at", "finished_at")
    for kind, enqueued, started, finished in rows.iterator(chunk_size=2000):
        executed[kind].append(_seconds(started, finished) or 0.0)
        wait = _seconds(enqueued, started)
        if wait is not None:
            waited[kind].append(wait)
    runs = with_bars([timing(kind, values) for kind, values in executed.items()])
    waits = {t.name: t for t in with_bars([timing(k, v) for k, v in waited.items()])}
    result = []
    for run in sorted(runs, key=lambda t: t.p95, reverse=True):
        wait_total, run_total = sum(waited[run.name]), sum(executed[run.name])
        share = 100 * wait_total / (wait_total + run_total) if wait_total + run_total else 0.0
        result.append(StepKindTiming(run.name, run, waits.get(run.name), share))
    return result


def cache_rates() -> dict[str, Any]:
    stats = cache_stats()
    lookups = stats.get("hits", 0) + stats.get("misses", 0)
    rate = 100 * stats.get("hits", 0) / lookups if lookups else None
    return {**stats, "lookups": lookups, "hit_rate": rate}
