"""Durations as templates write them: 90, "90s", "30m", "24h", "2d", "1h30m"."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> int:
    """Seconds in a duration; ValueError with a readable message otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError("a duration must be positive")
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration")
    text = value.strip().lower()
    if text.isdigit():
        return parse_duration(int(text))
    pos, total = 0, 0
    for match in _PART.finditer(text):
        if text[pos : match.start()].strip():
            break
        total += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or text[pos:].strip():
        raise ValueError(f"{value!r} is not a duration (use e.g. 90s, 30m, 24h, 2d)")
    if total <= 0:
        raise ValueError("a duration must be positive")
    return total


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
