"""Diffs on pages: the run page's Changes and a review gate show files the same way
(templates/workflows/_diff_files.html)."""

from __future__ import annotations

from typing import Any

from workflows.views.diff_highlight import HIGHLIGHT_MAX_LINES, diff_html

BIG_DIFF_LINES = 300  # a file's diff longer than this starts collapsed
REPORTS = ".spec/reports/"  # the app's own reports and prompts
HIGHLIGHT_PAGE_LINES = 10_000  # past this many lines on one page, the files after are shown plain


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


def files_for_page(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """git_runs.diff_files entries ready for the partial: code before the app's own reports
    (.spec/reports/), each with its lines and whether it starts collapsed (a big diff, and
    a report, which people read less than the code). The code is highlighted by language,
    except in a cut diff, a very long one, and the files past the page's budget."""
    files.sort(key=lambda f: (f["path"].startswith(REPORTS), f["path"]))
    budget = HIGHLIGHT_PAGE_LINES
    for entry in files:
        lines = diff_lines(entry["diff"])
        highlight = not entry["truncated"] and len(lines) <= min(HIGHLIGHT_MAX_LINES, budget)
        budget -= len(lines) if highlight else 0
        entry["lines"] = diff_html(entry["path"], lines, highlight=highlight)
        entry["big"] = entry["truncated"] or len(lines) > BIG_DIFF_LINES or entry["path"].startswith(REPORTS)
    return files
