"""A diff's lines as HTML, the code in them highlighted by language (Pygments), for the
diff partial (templates/workflows/_diff_files.html).

Each hunk is read as two texts, the old side (context and deleted lines) and the new side
(context and added lines), and each side is lexed whole, so a string or comment opened on
one line colours the lines after it. Every piece of the file's text is escaped before the
line is marked safe: the content is whatever the agent wrote."""

from __future__ import annotations

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
UNSTYLED = {"", "w"}  # Pygments' names of plain text and whitespace: no span

OLD_SIDE = ("diff-ctx", "diff-del")
NEW_SIDE = ("diff-ctx", "diff-add")


def diff_html(path: str, lines: list[tuple[str, str]], *, highlight: bool) -> list[tuple[str, SafeString]]:
    """(CSS class, HTML) per line of diffs.diff_lines(); the code highlighted when asked
    and the file's name says its language, escaped text otherwise."""
    shown = [(cls, escape(text)) for cls, text in lines]
    lexer = _lexer_class(path.rsplit("/", 1)[-1]) if highlight else None
    if lexer is None:
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
