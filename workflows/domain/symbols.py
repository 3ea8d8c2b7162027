"""Which names a source file defines, for `symbol=` hooks.

A light scanner, not a parser: it must answer for files that do not compile, must not
emit warnings (pytest runs with warnings as errors, and `ast.parse` warns about escapes),
and must be fast enough for thousands of hooks.

Python: `def`, `async def` and `class` at any depth; `NAME =`, `NAME: type =` and `NAME: type`
at module level or directly in a class body (not locals inside functions).
JS/TS: `function NAME`, `class NAME`, `const/let/var NAME`, `export (default)? … NAME`,
`export { NAME }` / `export { x as NAME }`, and TS `interface`, `type NAME =`, `enum`.
"""

from __future__ import annotations

import keyword
import re

PYTHON_SUFFIXES = (".py", ".pyi")
JS_SUFFIXES = (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts")

# Strings and comments, blanked before counting brackets so quoted text cannot fool it.
_PY_NOISE = re.compile(
    "|".join(
        (
            r'"""(?:\\.|[^\\])*?"""',  # triple-quoted strings may span lines
            r"'''(?:\\.|[^\\])*?'''",
            r'"(?:\\.|[^"\\\n])*"',
            r"'(?:\\.|[^'\\\n])*'",
            r"#[^\n]*",
        )
    )
)
_PY_DEF = re.compile(r"(?:async[ \t]+)?(def|class)[ \t]+([^\W\d]\w*)")
_PY_ASSIGN = re.compile(r"([^\W\d]\w*)[ \t]*(?::[^=\n]+)?=(?!=)")
_PY_ANNOTATION = re.compile(r"([^\W\d]\w*)[ \t]*:[ \t]*[^\s=]")

_JS_NOISE = re.compile(
    r"""("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|//[^\n]*|/\*[\s\S]*?\*/"""
)
_JS_DEF = re.compile(
    r"(?<![\w$.])(?:(?:async\s+)?function\s*\*?|class|const|let|var|interface|enum|namespace)"
    r"\s+([A-Za-z_$][\w$]*)"
)
_TS_TYPE = re.compile(r"(?<![\w$.])type\s+([A-Za-z_$][\w$]*)\s*(?:<[^>]*>)?\s*=")
_JS_EXPORT_LIST = re.compile(r"(?<![\w$.])export\s+(?:type\s+)?\{([^}]*)\}")


def defined_names(text: str, filename: str) -> frozenset[str]:
    lower = filename.lower()
    if lower.endswith(PYTHON_SUFFIXES):
        return python_names(text)
    if lower.endswith(JS_SUFFIXES):
        return js_names(text)
    return python_names(text) | js_names(text)


def has_symbol(names: frozenset[str], symbol: str) -> bool:
    """`A.b` needs both `A` and `b` defined in the file (a method of a class, roughly)."""
    return all(part in names for part in symbol.split("."))


def python_names(text: str) -> frozenset[str]:
    names: set[str] = set()
    blocks: list[tuple[int, str]] = []  # (indent, "def" | "class") enclosing the line
    for line in _logical_lines(text):
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        while blocks and blocks[-1][0] >= indent:
            blocks.pop()
        match = _PY_DEF.match(stripped)
        if match:
            names.add(match.group(2))
            blocks.append((indent, match.group(1)))
        elif not blocks or blocks[-1][1] == "class":
            name = _assigned_name(stripped)
            if name:
                names.add(name)
    return frozenset(names)


def _assigned_name(stripped: str) -> str | None:
    match = _PY_ASSIGN.match(stripped) or _PY_ANNOTATION.match(stripped)
    if match and not keyword.iskeyword(match.group(1)):
        return match.group(1)
    return None


def _logical_lines(text: str) -> list[str]:
    """The first physical line of each logical line (brackets and strings span lines)."""
    lines: list[str] = []
    depth, continued = 0, False
    for raw in _PY_NOISE.sub(_blank_python, text).split("\n"):
        line = raw.rstrip("\r")
        if depth == 0 and not continued:
            lines.append(line)
        opened = line.count("(") + line.count("[") + line.count("{")
        closed = line.count(")") + line.count("]") + line.count("}")
        depth = max(0, depth + opened - closed)
        continued = line.endswith("\\")
    return lines


def _blank_python(match: re.Match[str]) -> str:
    # Comments vanish; a string becomes "" plus the newlines it spanned, so lines stay put.
    found = match.group()
    return "" if found[0] == "#" else '""' + "\n" * found.count("\n")


def js_names(text: str) -> frozenset[str]:
    code = _JS_NOISE.sub(_blank, text)
    names = {m.group(1) for m in _JS_DEF.finditer(code)}
    names.update(m.group(1) for m in _TS_TYPE.finditer(code))
    for match in _JS_EXPORT_LIST.finditer(code):
        for item in match.group(1).split(","):
            # `x as y` exports y, but a hook may name either.
            names.update(w for w in item.split() if w not in ("as", "type", "default"))
    return frozenset(names)


def _blank(match: re.Match[str]) -> str:
    # Keep the quotes of strings so `const x = "a"` stays a declaration; drop comments.
    found = match.group()
    return found[0] + found[-1] if match.group(1) else " "
