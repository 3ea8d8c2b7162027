"""Durations as templates write them: 90, "90s", "30m", "24h", "2d", "1h30m"."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"([0-9]{1,12})\s*([smhd])")
_SECONDS = re.compile(r"[0-9]{1,12}")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# The longest step timeout, approval deadline, escalation or reminder a template may set: a
# run that waits longer has been forgotten, and a larger number would overflow the
# database's integer columns and Python's datetime arithmetic long before it meant anything.
MAX_DURATION = 30 * 86400


def parse_duration(value: object, maximum: int = MAX_DURATION) -> int:
    """Whole seconds in a duration, from 1 to `maximum`; ValueError with a readable
    message otherwise (never OverflowError: .inf and 1e30 are refused as too long)."""
    seconds = _seconds(value)
    if seconds < 1:
        raise ValueError("a duration must be at least 1 second")
    if seconds > maximum:
        raise ValueError(f"a duration must be at most {_days_or_seconds(maximum)}")
    return int(seconds)


def _seconds(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{_shown(value)} is not a duration")
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            raise ValueError("a duration must be a number of seconds, not NaN")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{_shown(value)} is not a duration")
    text = value.strip().lower()
    if _SECONDS.fullmatch(text):
        return int(text)
    pos, total = 0, 0
    for match in _PART.finditer(text):
        if text[pos : match.start()].strip():
            break
        total += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or text[pos:].strip():
        raise ValueError(f"{_shown(value)} is not a duration (use e.g. 90s, 30m, 24h, 2d)")
    return total


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _days_or_seconds(seconds: int) -> str:
    return f"{seconds // 86400}d" if seconds % 86400 == 0 else f"{seconds}s"


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
