"""Diffs on pages: the run page's Changes and a review gate show files the same way
(templates/workflows/_diff_files.html)."""

from __future__ import annotations

from typing import Any

BIG_DIFF_LINES = 300  # a file's diff longer than this starts collapsed
REPORTS = ".spec/reports/"  # the app's own reports and prompts


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """(CSS class, text) per line of a unified diff; the template escapes the text."""
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
    a report, which people read less than the code)."""
    files.sort(key=lambda f: (f["path"].startswith(REPORTS), f["path"]))
    for entry in files:
        entry["lines"] = diff_lines(entry["diff"])
        entry["big"] = (
            entry["truncated"] or len(entry["lines"]) > BIG_DIFF_LINES or entry["path"].startswith(REPORTS)
        )
    return files
