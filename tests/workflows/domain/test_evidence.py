from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.domain.evidence import MAX_REGEX_LENGTH, compile_regex, parse_hook


def test_it_parses_each_hook_type() -> None:
    code = parse_hook("code path=src/a.py symbol=hash_password", 7)
    assert (code.line, code.kind, code.path, code.get("symbol"), code.error) == (
        7, "code", "src/a.py", "hash_password", None,
    )  # fmt: skip
    test = parse_hook('test path=tests/t.py contains="x" command="pytest -q tests/t.py"')
    assert test.get("command") == "pytest -q tests/t.py" and test.error is None
    docs = parse_hook('docs path=docs/a.md heading="Signing in" contains=flow')
    assert dict(docs.params) == {"path": "docs/a.md", "heading": "Signing in", "contains": "flow"}
    ui = parse_hook("ui screen=Login route=/login states=loading,error selector=#form component=X")
    assert ui.kind == "ui" and ui.get("states") == "loading,error" and ui.error is None


def test_it_reads_double_single_and_escaped_quotes() -> None:
    hook = parse_hook('code path="a b/c.py" contains=\'single "inner"\' regex="esc \\"quote\\" \\\\ end"')
    assert hook.path == "a b/c.py"
    assert hook.get("contains") == 'single "inner"'
    assert hook.get("regex") == 'esc "quote" \\ end'


def test_it_keeps_regex_backslashes_that_escape_nothing() -> None:
    hook = parse_hook('code path=x.py regex="IDLE_TIMEOUT\\s*=\\s*30"')
    assert hook.get("regex") == "IDLE_TIMEOUT\\s*=\\s*30" and hook.error is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "empty evidence hook"),
        ("path=src/a.py", "missing hook type before key=value pairs"),
        (
            "screenshot path=a.png",
            "unknown evidence type 'screenshot' (expected code, test, docs, ui)",
        ),
        ('code contains="no path given"', "a code hook needs path="),
        ("test contains=x", "a test hook needs path="),
        ("docs heading=x", "a docs hook needs path="),
        ("ui route=/x", "a ui hook needs screen= or path="),
        ('code path=a.py contains="unterminated', 'unterminated " quote'),
        ("code path=a.py contains='unterminated", "unterminated ' quote"),
        ("code path=a.py stray", "expected key=value, found 'stray'"),
        (
            "code path=a.py symbl=x",
            "unknown key 'symbl' for a code hook (allowed: path, symbol, contains, regex)",
        ),
        (
            "docs path=a.md symbol=x",
            "unknown key 'symbol' for a docs hook (allowed: path, heading, contains, regex)",
        ),
        ("code path=a.py path=b.py", "key 'path' given more than once"),
        ('code path=a.py contains=""', "contains= is empty"),
        (
            "code path=a.py symbol=not-an-identifier",
            "symbol 'not-an-identifier' is not an identifier",
        ),
        (
            'code path=a.py regex="(unclosed"',
            "bad regex '(unclosed': missing ), unterminated subpattern at position 0",
        ),
    ],
)
def test_it_reports_malformed_hooks_without_raising(text: str, error: str) -> None:
    assert parse_hook(text, 3).error == error


def test_it_keeps_the_type_of_a_hook_with_a_syntax_error() -> None:
    assert parse_hook('code path=a.py contains="open').kind == "code"


def test_it_refuses_a_regex_python_only_warns_about() -> None:
    # "[[" is a FutureWarning (possible nested set): refused, never a warning in the output.
    hook = parse_hook('code path=a.py regex="[[a]"')
    assert hook.error is not None and "nested set" in hook.error
    assert isinstance(compile_regex("[[a]"), str)


def test_it_refuses_overlong_regexes() -> None:
    hook = parse_hook(f'code path=a.py regex="{"a" * (MAX_REGEX_LENGTH + 1)}"')
    assert hook.error == f"regex longer than {MAX_REGEX_LENGTH} characters"


def test_regexes_are_multiline_and_compiled_once() -> None:
    first = compile_regex("^B$")
    assert not isinstance(first, str) and first.search("a\nB\nc")
    assert compile_regex("^B$") is first


def test_it_strips_table_pipes_and_stops_at_the_next_cell() -> None:
    hook = parse_hook('docs path=docs/auth.md heading="Signing in" | note |', table_row=True)
    assert hook.error is None and hook.raw == 'docs path=docs/auth.md heading="Signing in"'
    quoted = parse_hook('code path=a.py regex="a|b" |', table_row=True)
    assert quoted.get("regex") == "a|b"


def test_a_pipe_outside_a_table_is_part_of_the_value() -> None:
    assert parse_hook("code path=a.py regex=a|b").get("regex") == "a|b"


def test_it_unwraps_an_inline_code_span() -> None:
    hook = parse_hook("`code path=src/a.py symbol=f`")
    assert hook.error is None and hook.get("symbol") == "f"


def test_as_dict_is_json_friendly() -> None:
    assert parse_hook("code path=a.py contains=x", 4).as_dict() == {
        "line": 4,
        "type": "code",
        "params": {"path": "a.py", "contains": "x"},
        "raw": "code path=a.py contains=x",
        "error": None,
    }


@given(st.text(), st.booleans())
def test_it_never_raises_on_arbitrary_text(text: str, table_row: bool) -> None:
    hook = parse_hook(text, 1, table_row=table_row)
    assert hook.error is not None or hook.kind in ("code", "test", "docs", "ui")


@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=30), st.sampled_from("\"'"))
def test_quoting_round_trips_any_value(value: str, quote: str) -> None:
    escaped = value.replace("\\", "\\\\").replace(quote, "\\" + quote)
    hook = parse_hook(f"code path=a.py contains={quote}{escaped}{quote}")
    assert hook.get("contains") == value or (value == "" and hook.error == "contains= is empty")
