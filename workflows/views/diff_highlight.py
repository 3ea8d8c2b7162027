"""A diff's lines as HTML, the code in them highlighted by language (Pygments), for the
diff partial (templates/workflows/_diff_files.html).

Given the file's whole old and new texts, each is lexed whole and every line of the diff
takes the tokens of its line in the file (found by the hunk headings' line numbers), so a
docstring or comment opened far above a hunk colours the hunk right. Without them (or when
a line does not match its file), each hunk is read as two texts, the old side (context and
deleted lines) and the new side (context and added lines), each lexed whole. Every piece of
the file's text is escaped before the line is marked safe: the content is whatever the
agent wrote."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_for_filename
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

HIGHLIGHT_MAX_LINES = 2000  # a file's diff longer than this is shown plain
HUNK_START = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
UNSTYLED = {"", "w"}  # Pygments' names of plain text and whitespace: no span

OLD_SIDE = ("diff-ctx", "diff-del")
NEW_SIDE = ("diff-ctx", "diff-add")


def diff_html(
    path: str, lines: list[tuple[str, str]], *, highlight: bool, texts: tuple[str, str] | None = None
) -> list[tuple[str, SafeString]]:
    """(CSS class, HTML) per line of diffs.diff_lines(); the code highlighted when asked
    and the file's name says its language, escaped text otherwise. `texts`: the file's
    whole old and new text ('' for a side that does not exist), to lex them whole."""
    shown = [(cls, escape(text)) for cls, text in lines]
    lexer = _lexer_class(path.rsplit("/", 1)[-1]) if highlight else None
    if lexer is None:
        return shown
    if texts is not None and _from_whole_files(lexer, lines, texts, shown):
        return shown
    for hunk in _hunks(lines):
        # A context line is on both sides; the new side, lexed last, is the one shown.
        for side in (OLD_SIDE, NEW_SIDE):
            rows = [i for i in hunk if lines[i][0] in side]
            if not rows:
                continue
            tokens = _token_lines(lexer(stripnl=False, ensurenl=True), [lines[i][1][1:] for i in rows])
            if tokens is None:
                continue
            for i, line_tokens in zip(rows, tokens, strict=True):
                cls, text = lines[i]
                shown[i] = (cls, escape(text[:1]) + _render(line_tokens))
    return shown


def _from_whole_files(
    lexer: type[Lexer],
    lines: list[tuple[str, str]],
    texts: tuple[str, str],
    shown: list[tuple[str, SafeString]],
) -> bool:
    """Fill `shown` with each line's tokens from the whole file it belongs to: a deleted
    line from the old text, any other from the new. False (and `shown` as it was) when a
    side cannot be lexed back to itself or a line of the diff is not that line of its file."""
    sides = [
        _token_lines(lexer(stripnl=False, ensurenl=True), text.splitlines()) if text else [] for text in texts
    ]
    old_side, new_side = sides
    if old_side is None or new_side is None:
        return False
    found: list[tuple[int, SafeString]] = []
    for i, ((cls, text), (old, new)) in enumerate(zip(lines, line_numbers(lines), strict=True)):
        if old is None and new is None:
            continue  # git's header, a hunk's heading, a note
        side, number = (old_side, old) if cls == "diff-del" else (new_side, new)
        if number is None or not 0 < number <= len(side):
            return False
        if "".join(value for _, value in side[number - 1]) != text[1:]:
            return False
        found.append((i, escape(text[:1]) + _render(side[number - 1])))
    for i, html in found:
        shown[i] = (lines[i][0], html)
    return True


def line_numbers(lines: list[tuple[str, str]]) -> list[tuple[int | None, int | None]]:
    """(old, new) line number of each line of diffs.diff_lines(), from the hunks' headings:
    a deleted line has its old number, an added line its new one, a context line both;
    git's header, a heading and git's notes ("\\ No newline at end of file") neither."""
    numbers: list[tuple[int | None, int | None]] = []
    old = new = 0
    for cls, text in lines:
        if cls == "diff-hunk":
            start = HUNK_START.match(text)
            old, new = (int(start.group(1)), int(start.group(2))) if start else (0, 0)
            numbers.append((None, None))
        elif cls == "diff-meta" or text.startswith("\\"):
            numbers.append((None, None))
        elif cls == "diff-del":
            numbers.append((old, None))
            old += 1
        elif cls == "diff-add":
            numbers.append((None, new))
            new += 1
        else:
            numbers.append((old, new))
            old += 1
            new += 1
    return numbers


def has_lexer(path: str) -> bool:
    """Pygments knows the file's language from its name."""
    return _lexer_class(path.rsplit("/", 1)[-1]) is not None


@lru_cache(maxsize=256)
def _lexer_class(filename: str) -> type[Lexer] | None:
    """The lexer the file's name calls for; None for a name Pygments does not know. Finding
    it matches the name against every lexer's patterns, hence the cache; the class, so that
    each reading makes its own lexer and no two requests share one."""
    try:
        return type(get_lexer_for_filename(filename))
    except ClassNotFound:
        return None


def _hunks(lines: list[tuple[str, str]]) -> Iterator[list[int]]:
    """The indexes of each hunk's code lines; not git's "\\ No newline at end of file"."""
    hunk: list[int] | None = None
    for i, (cls, text) in enumerate(lines):
        if cls == "diff-hunk":
            if hunk:
                yield hunk
            hunk = []
        elif hunk is not None and cls in ("diff-ctx", "diff-add", "diff-del") and not text.startswith("\\"):
            hunk.append(i)
    if hunk:
        yield hunk


def _token_lines(lexer: Lexer, texts: list[str]) -> list[list[tuple[str, str]]] | None:
    """(short type name, text) per token, per line of the texts lexed as one; None when the
    lexer's tokens do not give back exactly the text (then the side stays plain)."""
    source = "".join(text + "\n" for text in texts)
    found: list[list[tuple[str, str]]] = [[]]
    seen = []
    for ttype, value in lexer.get_tokens(source):
        seen.append(value)
        name = _short_name(ttype)
        first, *rest = value.split("\n")
        found[-1].append((name, first))
        for part in rest:
            found.append([(name, part)])
    if "".join(seen) != source:
        return None
    return found[:-1]  # the line after the last newline is empty


def _short_name(ttype: Any) -> str:
    """Pygments' short name of the token's type (`k`, `s2`, ...), or of the nearest type
    above it that has one."""
    while ttype not in STANDARD_TYPES and ttype.parent is not None:
        ttype = ttype.parent
    return STANDARD_TYPES.get(ttype, "")


def _render(tokens: list[tuple[str, str]]) -> SafeString:
    """Escaped text in a <span class="tok-XX"> per run of tokens of one type."""
    merged: list[tuple[str, str]] = []
    for name, value in tokens:
        if merged and merged[-1][0] == name:
            merged[-1] = (name, merged[-1][1] + value)
        elif value:
            merged.append((name, value))
    # format_html, a few times slower, would also escape the names: Pygments' own table.
    parts = [
        escape(value) if name in UNSTYLED else f'<span class="tok-{name}">{escape(value)}</span>'
        for name, value in merged
    ]
    return mark_safe("".join(parts))  # noqa: S308 (each value escaped just above)
