"""Small server-rendered charts: a picture is quicker to read than a table of numbers."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.models import Run

BAR_W, GAP, HEIGHT, PAD = 14, 4, 80, 4


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    height: int
    status: str
    title: str
    run_id: int


@dataclass(frozen=True)
class RunChart:
    bars: list[Bar]
    width: int
    height: int
    counts: dict[str, int]


def run_chart(runs: list[Run]) -> RunChart:
    """Bars for the last runs, oldest first: height is the duration, colour the outcome."""
    runs = list(reversed(runs))
    seconds = [(r.duration.total_seconds() if r.duration else 0.0) for r in runs]
    longest = max(seconds, default=0) or 1
    bars = []
    counts: dict[str, int] = {}
    for index, (run, secs) in enumerate(zip(runs, seconds, strict=True)):
        height = max(2, int(HEIGHT * secs / longest))
        counts[run.status] = counts.get(run.status, 0) + 1
        bars.append(
            Bar(
                x=PAD + index * (BAR_W + GAP),
                y=PAD + HEIGHT - height,
                height=height,
                status=run.status,
                run_id=run.pk,
                title=f"Run {run.pk} · {run.workflow_name} · {run.status} · {secs:.1f}s",
            )
        )
    width = PAD * 2 + max(1, len(runs)) * (BAR_W + GAP)
    return RunChart(bars, width, HEIGHT + PAD * 2, counts)
