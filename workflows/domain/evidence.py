"""Evidence hooks: `evidence: <type> key=value key="quoted value" …`.

The type is `code`, `test`, `docs` or `ui` (any case; a trailing colon is allowed, as in
`- code: path=src/a.py`). A first word that is none of them is an unknown type, whatever
follows it. `path=` names a file, or a directory: a directory hook holds when the folder
exists and holds something other than hidden files, and it takes no content check
(`symbol=`, `contains=`, `regex=`, `heading=`, `selector=`). A `ui` hook needs `screen=` or
`path=`; with a path it is checked like a file (the text of `selector=` and `contains=`
must be in it, as written: no CSS matching), without one it needs a person.

Parsing never raises: a malformed hook comes back with `error` set, so the task that owns it
is reported as invalid_evidence with the reason, and the rest of tasks.md still parses.

A hook's `regex=` is written in Python's syntax but searched with RE2, whose time is linear
in the file's length: a backtracking engine lets one hook such as `(a+)+$` hold a web
process for seconds (ReDoS). Patterns RE2 cannot run (backreferences, lookarounds, atomic
groups, possessive quantifiers, \\Z …) are refused with the reason. RE2's \\d \\w \\s \\b are
ASCII; name other scripts with a class such as [ก-๙].
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import re2  # google-re2: no type stubs (pyproject: ignore_missing_imports)

# The keys each hook type takes; the first tuple is required. Unknown keys are errors so a
# typo such as `symbl=` cannot silently weaken a check to "the file exists".
HOOK_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "code": (("path",), ("symbol", "contains", "regex")),
    "test": (("path",), ("contains", "regex", "command")),
    "docs": (("path",), ("heading", "contains", "regex")),
    "ui": ((), ("screen", "path", "route", "component", "states", "selector", "contains")),
}
# Types that need at least one of these keys (a ui hook names a screen, a file, or both).
ONE_OF_KEYS: dict[str, tuple[str, ...]] = {"ui": ("screen", "path")}
# The keys that check a file's content: a hook on a directory cannot use them.
CONTENT_KEYS = ("symbol", "contains", "regex", "heading", "selector")
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
_TYPE_WORD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*:?$")
_SYMBOL_RE = re.compile(r"^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$")
UNSUPPORTED_REGEX = "regex uses a feature the linear-time engine does not support"
# RE2's messages name the construct it stopped at; these say which feature that is.
_RE2_FEATURES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"escape sequence: \\[1-9]|operator: \(\?P$"), "backreference"),
    (re.compile(r"operator: \(\?<?[=!]"), "lookaround"),
    (re.compile(r"operator: \(\?>"), "atomic group"),
    (re.compile(r"operator: \(\?\("), "conditional group"),
    (re.compile(r"repetition operator: .\+"), "possessive quantifier"),
)


class Regex(Protocol):
    """What verification needs of a compiled hook regex."""

    def search(self, text: str) -> object | None: ...


@dataclass(frozen=True)
class Hook:
    line: int  # 1-based line number in tasks.md
    raw: str  # the text after "evidence:"
    kind: str  # the hook type ("code", "test", "docs", "ui"); "" when missing
    params: tuple[tuple[str, str], ...] = ()
    error: str | None = None
    implicit: bool = False  # made from a path the task's title names, not written as a hook

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
    raw = _strip_code_span(body.strip(), table_row)
    try:
        words, end = _split(raw, stop_at_pipe=table_row)
    except _HookSyntaxError as exc:
        # An unknown type is the first thing to fix, whatever the rest says.
        first = raw.split(maxsplit=1)[0] if raw.strip() else ""
        typed = _TYPE_WORD_RE.match(first) is not None
        kind = _type_of(first) if typed else ""
        if typed and kind not in HOOK_KEYS:
            return Hook(line, raw, kind, (), unknown_type(first))
        return Hook(line, raw, kind if kind in HOOK_KEYS else "", (), str(exc))
    raw = raw[:end].strip()
    if not words:
        return Hook(line, raw, "", (), "empty evidence hook")
    if words[0][0] != "":
        return Hook(line, raw, "", tuple(words), "missing hook type before key=value pairs")
    kind, params = _type_of(words[0][1]), tuple(words[1:])
    if kind not in HOOK_KEYS:
        return Hook(line, raw, kind, params, unknown_type(words[0][1]))
    return Hook(line, raw, kind, params, _validate(kind, params))


def _type_of(word: str) -> str:
    return word.removesuffix(":").lower()


def unknown_type(word: str) -> str:
    return f"unknown evidence type {word.removesuffix(':')!r} (expected {', '.join(HOOK_TYPES)})"


def _strip_code_span(text: str, table_row: bool = False) -> str:
    # Hooks are often written as inline code: evidence: `code path=x`, also in a table cell.
    if len(text) >= 2 and text.startswith("`") and text.endswith("`"):
        return text.strip("`").strip()
    if table_row and text.startswith("`"):
        end = text.find("`", 1)
        if end > 0 and text[end + 1 :].lstrip().startswith("|"):
            return text[1:end].strip()
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
    one_of = ONE_OF_KEYS.get(kind, ())
    if one_of and not any(key in keys for key in one_of):
        return f"a {kind} hook needs {' or '.join(k + '=' for k in one_of)}"
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
def compile_regex(pattern: str) -> Regex | str:
    """The compiled hook regex (MULTILINE, so ^ and $ match per line), or why it is bad.

    Python's parser checks the syntax first, so hooks keep Python's syntax and error
    messages; a pattern Python only warns about (a FutureWarning such as a possible nested
    set) is refused too, since its meaning is in doubt. RE2 then compiles what it searches.
    Cached so every hook naming the same pattern compiles it once per process.
    """
    problem = _python_syntax_problem(pattern)
    if problem is not None:
        return problem
    try:
        compiled: Regex = re2.compile("(?m)" + pattern, _re2_options())  # re2 has no type hints
        return compiled
    except re2.error as exc:
        return _unsupported(exc)


def _python_syntax_problem(pattern: str) -> str | None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            re.compile(pattern, re.MULTILINE)
        except re.error as exc:
            return str(exc)
    return str(caught[0].message) if caught else None


@lru_cache(maxsize=1)
def _re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a refused hook is reported, not logged to stderr by C++
    options.never_capture = True  # only "does it match" counts: lets RE2 use its DFA
    return options


def _unsupported(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else ""
    detail = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
    feature = next((name for found, name in _RE2_FEATURES if found.search(detail)), None)
    return f"{UNSUPPORTED_REGEX}: {feature} ({detail})" if feature else f"{UNSUPPORTED_REGEX}: {detail}"
