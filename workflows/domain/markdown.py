"""The bits of Markdown the domain needs: code fences, and heading texts for `heading=` hooks."""

from __future__ import annotations

import re

_ATX = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(?P<text>.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def normalize_heading(text: str) -> str:
    """Case-insensitive, trimmed, with runs of whitespace collapsed."""
    return " ".join(text.split()).casefold()


def heading_texts(markdown: str) -> frozenset[str]:
    """Every ATX or setext heading, normalized; headings inside code fences do not count."""
    found: set[str] = set()
    previous = ""  # the last line of the paragraph above, a setext heading candidate
    fence: str | None = None
    for raw in markdown.split("\n"):
        line = raw.rstrip("\r")
        marker = FENCE_RE.match(line)
        if marker or fence:
            fence = next_fence(marker.group(1) if marker else None, fence)
            previous = ""
            continue
        atx = _ATX.match(line)
        if atx:
            found.add(normalize_heading(atx.group("text") or ""))
            previous = ""
        elif _SETEXT.match(line) and previous:
            found.add(normalize_heading(previous))
            previous = ""
        else:
            previous = line if line.strip() else ""
    found.discard("")
    return frozenset(found)


def next_fence(marker: str | None, fence: str | None) -> str | None:
    """The open fence after a line whose fence marker is `marker` (None: not a fence line)."""
    if marker is None:
        return fence
    if fence is None:
        return marker
    return None if marker[0] == fence[0] and len(marker) >= len(fence) else fence
