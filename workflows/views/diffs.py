"""Diffs on pages: the run page's Changes and a review gate show files the same way
(templates/workflows/_diff_files.html), unified or side by side, as the reader chose."""

from __future__ import annotations

import re
from itertools import zip_longest
from pathlib import Path
from typing import Any

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from workflows.engine import git_changes, git_runs
from workflows.views.diff_highlight import HIGHLIGHT_MAX_LINES, diff_html, has_lexer, line_numbers

BIG_DIFF_LINES = 300  # a file's diff longer than this starts collapsed
REPORTS = ".spec/reports/"  # the app's own reports and prompts
HIGHLIGHT_PAGE_LINES = 10_000  # past this many lines on one page, the files after are shown plain
WHOLE_FILE_MAX_BYTES = 60_000  # a side of a file longer than this is lexed hunk by hunk
WHOLE_PAGE_BYTES = 240_000  # past this much lexed whole on one page, the files after are lexed by hunk
BLOB_IDS = re.compile(r"^index ([0-9a-f]+)\.\.([0-9a-f]+)", re.MULTILINE)
NO_BLOB = re.compile(r"^0+$")  # the side of an added or deleted file that does not exist

UNIFIED, SPLIT = "unified", "split"
DIFF_VIEWS = {UNIFIED: _("Unified"), SPLIT: _("Side by side")}
SESSION_KEY = "diff_view"


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


def files_for_page(
    files: list[dict[str, Any]], view: str = UNIFIED, *, repo: Path | None = None
) -> list[dict[str, Any]]:
    """git_changes.diff_files entries ready for the partial: code before the app's own reports
    (.spec/reports/), each with its lines (side by side: its rows, split_rows) and whether
    it starts collapsed (a big diff, and a report, which people read less than the code).
    The code is highlighted by language, except in a cut diff, a very long one, and the
    files past the page's budget; with the repository the diffs come from, the files'
    whole texts are lexed (as far as whole_texts allows)."""
    files.sort(key=lambda f: (f["path"].startswith(REPORTS), f["path"]))
    budget = HIGHLIGHT_PAGE_LINES
    planned = []
    for entry in files:
        lines = diff_lines(entry["diff"])
        highlight = not entry["truncated"] and len(lines) <= min(HIGHLIGHT_MAX_LINES, budget)
        budget -= len(lines) if highlight else 0
        planned.append((entry, lines, highlight))
    texts = whole_texts(repo, [entry for entry, _, highlight in planned if highlight]) if repo else {}
    for entry, lines, highlight in planned:
        entry["lines"] = diff_html(entry["path"], lines, highlight=highlight, texts=texts.get(entry["path"]))
        numbers = line_numbers(lines)
        if view == SPLIT:
            entry["rows"] = split_rows(lines, entry["lines"], numbers)
        else:  # each line with its old and new number, for the gutters
            entry["numbered"] = [
                (cls, old, new, html) for (cls, html), (old, new) in zip(entry["lines"], numbers, strict=True)
            ]
        entry["big"] = entry["truncated"] or len(lines) > BIG_DIFF_LINES or entry["path"].startswith(REPORTS)
    return files


def whole_texts(repo: Path, files: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """The whole old and new text of each file worth lexing whole, by path: code (not the
    app's reports) in a language Pygments knows, each side at most WHOLE_FILE_MAX_BYTES,
    WHOLE_PAGE_BYTES in all (lexing costs about 40 ms per 1,000 lines). Read by the blob
    ids of the diffs' `index` lines, in two git calls; none when git cannot read them."""
    ids: dict[str, tuple[str, str]] = {}
    for entry in files:
        found = BLOB_IDS.search(entry["diff"])
        if found and not entry["path"].startswith(REPORTS) and has_lexer(entry["path"]):
            ids[entry["path"]] = (found.group(1), found.group(2))
    wanted = [blob for pair in ids.values() for blob in pair if not NO_BLOB.match(blob)]
    try:
        blobs = git_changes.read_blobs(repo, wanted, max_bytes=WHOLE_FILE_MAX_BYTES)
    except git_runs.GitError:
        return {}
    texts: dict[str, tuple[str, str]] = {}
    spent = 0
    for path, (old, new) in ids.items():
        old_text = "" if NO_BLOB.match(old) else blobs.get(old)
        new_text = "" if NO_BLOB.match(new) else blobs.get(new)
        if old_text is None or new_text is None or spent + len(old_text) + len(new_text) > WHOLE_PAGE_BYTES:
            continue
        spent += len(old_text) + len(new_text)
        texts[path] = (old_text, new_text)
    return texts


def split_rows(
    lines: list[tuple[str, str]],
    shown: list[tuple[str, SafeString]],
    numbers: list[tuple[int | None, int | None]],
) -> list[dict[str, Any]]:
    """The rows of a side-by-side diff from diff_lines(), their HTML (diff_html()) and their
    numbers (line_numbers()): a hunk's heading; a note (git's "\\ No newline at end of
    file"); or an old and a new cell, each (CSS class, line number, HTML without the +/-/
    space) or None. A context line fills both; the deleted lines of a change face its added
    lines, row by row."""
    rows: list[dict[str, Any]] = []
    deleted: list[tuple[str, int | None, SafeString]] = []
    added: list[tuple[str, int | None, SafeString]] = []

    def pair_up() -> None:
        rows.extend({"old": left, "new": right} for left, right in zip_longest(deleted, added))
        deleted.clear()
        added.clear()

    for (cls, text), (_cls, html), (old, new) in zip(lines, shown, numbers, strict=True):
        if cls == "diff-meta":
            continue  # git's header lines: the file's summary says the same
        if cls == "diff-hunk" or text.startswith("\\"):
            pair_up()
            rows.append({"hunk": html} if cls == "diff-hunk" else {"note": html})
            continue
        code = mark_safe(html[1:])  # noqa: S308 (escaped HTML; the first character, +, - or space, is its own)
        if cls == "diff-del":
            deleted.append((cls, old, code))
        elif cls == "diff-add":
            added.append((cls, new, code))
        else:
            pair_up()
            rows.append({"old": (cls, old, code), "new": (cls, new, code)})
    pair_up()
    return rows
