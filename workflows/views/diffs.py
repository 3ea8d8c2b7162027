"""Diffs on pages: the run page's Changes and a review gate show files the same way
(templates/workflows/_diff_files.html), unified or side by side, as the reader chose."""

from __future__ import annotations

import re
from itertools import zip_longest
from typing import Any

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from workflows.views.diff_highlight import HIGHLIGHT_MAX_LINES, diff_html

BIG_DIFF_LINES = 300  # a file's diff longer than this starts collapsed
REPORTS = ".spec/reports/"  # the app's own reports and prompts
HIGHLIGHT_PAGE_LINES = 10_000  # past this many lines on one page, the files after are shown plain

UNIFIED, SPLIT = "unified", "split"
DIFF_VIEWS = {UNIFIED: _("Unified"), SPLIT: _("Side by side")}
SESSION_KEY = "diff_view"
HUNK_START = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def diff_view(request: HttpRequest) -> str:
    """How this reader sees diffs: `?diff=unified|split` chooses, and their session keeps
    the choice for the next page; unified until they choose."""
    chosen = request.GET.get("diff", "")
    if chosen in DIFF_VIEWS:
        if request.session.get(SESSION_KEY) != chosen:
            request.session[SESSION_KEY] = chosen
        return chosen
    kept = request.session.get(SESSION_KEY, "")
    return kept if kept in DIFF_VIEWS else UNIFIED


def diff_view_links(request: HttpRequest, view: str, *, anchor: str) -> list[dict[str, Any]]:
    """The partial's switch: a link per view to this page (its other parameters kept)."""
    links = []
    for name, label in DIFF_VIEWS.items():
        query = request.GET.copy()
        query["diff"] = name
        links.append(
            {"view": name, "label": label, "url": f"?{query.urlencode()}#{anchor}", "current": name == view}
        )
    return links


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """(CSS class, text) per line of a unified diff."""
    found = []
    in_header = True
    for line in diff.splitlines():
        if line.startswith("@@"):
            in_header = False
            found.append(("diff-hunk", line))
        elif in_header:
            found.append(("diff-meta", line))
        elif line.startswith("+"):
            found.append(("diff-add", line))
        elif line.startswith("-"):
            found.append(("diff-del", line))
        else:
            found.append(("diff-ctx", line))
    return found


def files_for_page(files: list[dict[str, Any]], view: str = UNIFIED) -> list[dict[str, Any]]:
    """git_runs.diff_files entries ready for the partial: code before the app's own reports
    (.spec/reports/), each with its lines (side by side: its rows, split_rows) and whether
    it starts collapsed (a big diff, and a report, which people read less than the code).
    The code is highlighted by language, except in a cut diff, a very long one, and the
    files past the page's budget."""
    files.sort(key=lambda f: (f["path"].startswith(REPORTS), f["path"]))
    budget = HIGHLIGHT_PAGE_LINES
    for entry in files:
        lines = diff_lines(entry["diff"])
        highlight = not entry["truncated"] and len(lines) <= min(HIGHLIGHT_MAX_LINES, budget)
        budget -= len(lines) if highlight else 0
        entry["lines"] = diff_html(entry["path"], lines, highlight=highlight)
        if view == SPLIT:
            entry["rows"] = split_rows(lines, entry["lines"])
        entry["big"] = entry["truncated"] or len(lines) > BIG_DIFF_LINES or entry["path"].startswith(REPORTS)
    return files


def split_rows(lines: list[tuple[str, str]], shown: list[tuple[str, SafeString]]) -> list[dict[str, Any]]:
    """The rows of a side-by-side diff from diff_lines() and their HTML (diff_html()): a
    hunk's heading; a note (git's "\\ No newline at end of file"); or an old and a new
    cell, each (CSS class, line number, HTML without the +/-/space) or None. A context line
    fills both; the deleted lines of a change face its added lines, row by row."""
    rows: list[dict[str, Any]] = []
    deleted: list[tuple[str, int, SafeString]] = []
    added: list[tuple[str, int, SafeString]] = []
    old = new = 0

    def pair_up() -> None:
        rows.extend({"old": left, "new": right} for left, right in zip_longest(deleted, added))
        deleted.clear()
        added.clear()

    for (cls, text), (_cls, html) in zip(lines, shown, strict=True):
        if cls == "diff-meta":
            continue  # git's header lines: the file's summary says the same
        if cls == "diff-hunk":
            pair_up()
            start = HUNK_START.match(text)
            old, new = (int(start.group(1)), int(start.group(2))) if start else (0, 0)
            rows.append({"hunk": html})
            continue
        if text.startswith("\\"):
            pair_up()
            rows.append({"note": html})
            continue
        code = mark_safe(html[1:])  # noqa: S308 (escaped HTML; the first character, +, - or space, is its own)
        if cls == "diff-del":
            deleted.append((cls, old, code))
            old += 1
        elif cls == "diff-add":
            added.append((cls, new, code))
            new += 1
        else:
            pair_up()
            rows.append({"old": (cls, old, code), "new": (cls, new, code)})
            old += 1
            new += 1
    pair_up()
    return rows
