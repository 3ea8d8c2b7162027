"""Values a JSON column stores faithfully: what a template or a run's params may hold.

Pure Python; the template format (domain/template_format.py) and the API's run parameters
(api/schemas.py) refuse the same things with the same words.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

# Nesting of lists and mappings, the template's own mapping being level 1. A template needs
# about 7 (template, steps, step, with, form, field, choices); 32 leaves room for params and
# items while keeping recursive code (json, the engine, the pages) far from its limits.
MAX_DEPTH = 32
# PostgreSQL's jsonb refuses \u0000 and unpaired surrogates; SQLite would store them.
_UNSTORABLE_TEXT_RE = re.compile(r"[\x00\ud800-\udfff]")

JsonPath = tuple[str | int, ...]


def json_problems(value: Any, limit: int) -> list[tuple[JsonPath, str]]:
    """Where `value` holds what a JSON column cannot store faithfully, and why: text keys
    only, finite numbers, no NUL or unpaired surrogate, at most MAX_DEPTH levels.

    Iterative (breadth first), so a deep value costs no recursion; at most `limit` found.
    """
    found: list[tuple[JsonPath, str]] = []
    queue: list[tuple[Any, JsonPath, int]] = [(value, (), 1)]
    for item, path, depth in queue:
        if len(found) >= limit:
            break
        if isinstance(item, dict | list) and depth > MAX_DEPTH:
            found.append((path, f"nested more than {MAX_DEPTH} levels deep"))
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    found.append(((*path, str(key)), f"the key {key!r} must be text: quote it"))
                elif _UNSTORABLE_TEXT_RE.search(key):
                    found.append(((*path, key), "a key must not hold NUL or unpaired surrogates"))
                else:
                    queue.append((child, (*path, key), depth + 1))
        elif isinstance(item, list):
            queue.extend((child, (*path, index), depth + 1) for index, child in enumerate(item))
        elif (problem := _scalar_problem(item)) is not None:
            found.append((path, problem))
    return found


def _scalar_problem(value: Any) -> str | None:
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "must be a finite number (not .inf or .nan)"
    if isinstance(value, str):
        return "text must not hold NUL or unpaired surrogates" if _UNSTORABLE_TEXT_RE.search(value) else None
    if isinstance(value, bytes):
        return "binary data (!!binary) is not accepted: write text"
    if isinstance(value, set | frozenset):
        return "a set (!!set) is not accepted: write a list"
    if isinstance(value, datetime.date):
        return "a timestamp (!!timestamp) is not accepted: write the date as text"
    if isinstance(value, tuple):
        return "ordered pairs (!!omap, !!pairs) are not accepted: write a mapping"
    return f"a {type(value).__name__} is not accepted: use text, numbers, lists and mappings"


def dotted(path: JsonPath) -> str:
    """A path as a template author writes it: with.form[0].name."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
