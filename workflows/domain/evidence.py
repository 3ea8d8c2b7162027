"""Evidence hooks: `evidence: <type> key=value key="quoted value" …`.

Parsing never raises: a malformed hook comes back with `error` set, so the task that owns it
is reported as invalid_evidence with the reason, and the rest of tasks.md still parses.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache

# The keys each hook type takes; the first tuple is required. Unknown keys are errors so a
# typo such as `symbl=` cannot silently weaken a check to "the file exists".
HOOK_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "code": (("path",), ("symbol", "contains", "regex")),
    "test": (("path",), ("contains", "command")),
    "docs": (("path",), ("heading", "contains")),
    "ui": (("screen",), ("route", "component", "states", "selector", "contains")),
}
HOOK_TYPES = tuple(HOOK_KEYS)
MAX_REGEX_LENGTH = 500
_WORD = (
    r"""(?P<key>[A-Za-z_][A-Za-z0-9_-]*)="""
    r"""(?:"(?P<dq>(?:\\.|[^"\\])*)"|'(?P<sq>(?:\\.|[^'\\])*)'|(?P<bare>(?!["'])[^\s{stop}]*))"""
    r"""|(?P<word>[^\s{stop}]+)"""
)
_WORD_RE = re.compile(_WORD.format(stop=""))
_TABLE_WORD_RE = re.compile(_WORD.format(stop="|"))  # in a table row "|" ends the hook
_SPACE_RE = re.compile(r"\s*")
_OPEN_QUOTE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*=([\"'])")
_DQ_ESCAPE_RE = re.compile(r'\\([\\"])')
_SQ_ESCAPE_RE = re.compile(r"\\([\\'])")
_SYMBOL_RE = re.compile(r"^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$")


@dataclass(frozen=True)
class Hook:
    line: int  # 1-based line number in tasks.md
    raw: str  # the text after "evidence:"
    kind: str  # the hook type ("code", "test", "docs", "ui"); "" when missing
    params: tuple[tuple[str, str], ...] = ()
    error: str | None = None

    def get(self, key: str) -> str | None:
        return next((v for k, v in self.params if k == key), None)

    @property
    def path(self) -> str | None:
        return self.get("path")

    def as_dict(self) -> dict[str, object]:
        return {
            "line": self.line,
            "type": self.kind,
            "params": dict(self.params),
            "raw": self.raw,
            "error": self.error,
        }


class _HookSyntaxError(ValueError):
    pass


def parse_hook(body: str, line: int = 0, *, table_row: bool = False) -> Hook:
    """Parse the text after `evidence:`; in a table row an unquoted `|` ends the hook."""
    raw = _strip_code_span(body.strip())
    try:
        words, end = _split(raw, stop_at_pipe=table_row)
    except _HookSyntaxError as exc:
        return Hook(line, raw, _leading_type(raw), (), str(exc))
    raw = raw[:end].strip()
    if not words:
        return Hook(line, raw, "", (), "empty evidence hook")
    if words[0][0] != "":
        return Hook(line, raw, "", tuple(words), "missing hook type before key=value pairs")
    kind, params = words[0][1], tuple(words[1:])
    return Hook(line, raw, kind, params, _validate(kind, params))


def _leading_type(raw: str) -> str:
    first = raw.split(maxsplit=1)[0] if raw.strip() else ""
    return first if first.isalpha() else ""


def _strip_code_span(text: str) -> str:
    # Hooks are often written as inline code: evidence: `code path=x`.
    if len(text) >= 2 and text.startswith("`") and text.endswith("`"):
        return text.strip("`").strip()
    return text


def _split(text: str, *, stop_at_pipe: bool) -> tuple[list[tuple[str, str]], int]:
    """Words as (key, value) and where they end; a bare word (the type) has key ""."""
    pattern = _TABLE_WORD_RE if stop_at_pipe else _WORD_RE
    words: list[tuple[str, str]] = []
    pos, n = 0, len(text)
    while True:
        pos = _SPACE_RE.match(text, pos).end()  # type: ignore[union-attr]  # always matches
        if pos >= n or (stop_at_pipe and text[pos] == "|"):
            return words, pos
        match = pattern.match(text, pos)
        assert match is not None  # the word alternative matches any non-space character
        pos = match.end()
        if match.group("key") is not None:
            words.append((match.group("key"), _unquote(match)))
            continue
        word = match.group("word")
        opened = _OPEN_QUOTE_RE.match(word)
        if opened:
            raise _HookSyntaxError(f"unterminated {opened.group(1)} quote")
        if words or "=" in word or any(q in word for q in "\"'"):
            raise _HookSyntaxError(f"expected key=value, found {word!r}")
        words.append(("", word))


def _unquote(match: re.Match[str]) -> str:
    """Backslash escapes only the quote and itself, so a regex's `\\s` survives as is."""
    if match.group("dq") is not None:
        return _DQ_ESCAPE_RE.sub(r"\1", match.group("dq"))
    if match.group("sq") is not None:
        return _SQ_ESCAPE_RE.sub(r"\1", match.group("sq"))
    return match.group("bare")


def _validate(kind: str, params: tuple[tuple[str, str], ...]) -> str | None:
    if kind not in HOOK_KEYS:
        return f"unknown evidence type {kind!r} (expected {', '.join(HOOK_TYPES)})"
    required, optional = HOOK_KEYS[kind]
    keys = [k for k, _ in params]
    for key in keys:
        if keys.count(key) > 1:
            return f"key {key!r} given more than once"
        if key not in required and key not in optional:
            return f"unknown key {key!r} for a {kind} hook (allowed: {', '.join(required + optional)})"
    for key in required:
        if key not in keys:
            return f"a {kind} hook needs {key}="
    for key, value in params:
        if value == "":
            return f"{key}= is empty"
    return _check_values(dict(params))


def _check_values(values: dict[str, str]) -> str | None:
    regex = values.get("regex")
    if regex is not None:
        if len(regex) > MAX_REGEX_LENGTH:
            return f"regex longer than {MAX_REGEX_LENGTH} characters"
        compiled = compile_regex(regex)
        if isinstance(compiled, str):
            return f"bad regex {regex!r}: {compiled}"
    symbol = values.get("symbol")
    if symbol is not None and not _SYMBOL_RE.match(symbol):
        return f"symbol {symbol!r} is not an identifier"
    return None


@lru_cache(maxsize=4096)
def compile_regex(pattern: str) -> re.Pattern[str] | str:
    """The compiled hook regex (MULTILINE, so ^ and $ match per line), or why it is bad.

    A pattern Python only warns about (a FutureWarning such as a possible nested set) is
    refused too: its meaning may change, and verification must not depend on the version.
    Cached so every hook naming the same pattern compiles it once per process.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            compiled = re.compile(pattern, re.MULTILINE)
        except re.error as exc:
            return str(exc)
    if caught:
        return str(caught[0].message)
    return compiled
