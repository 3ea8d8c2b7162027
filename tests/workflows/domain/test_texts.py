"""Sentences that remember how they were made (workflows.domain.texts)."""

from __future__ import annotations

import json
import pickle

from workflows.domain.texts import Code, Text


def test_a_text_is_its_english_sentence_everywhere_a_string_goes():
    text = Text('"{text}" is not in {path}', text="ratelimit", path="src/auth/views.py")
    assert text == '"ratelimit" is not in src/auth/views.py'
    assert json.dumps({"reason": text}) == '{"reason": "\\"ratelimit\\" is not in src/auth/views.py"}'
    assert text.template == '"{text}" is not in {path}'
    assert text.params == {"text": "ratelimit", "path": "src/auth/views.py"}


def test_values_with_braces_are_not_read_as_fields():
    text = Text('regex "{regex}" matches {path}', regex=r"a{2,}", path="x.py")
    assert text == 'regex "a{2,}" matches x.py'
    again = pickle.loads(pickle.dumps(text))  # noqa: S301 - bytes this test just made
    assert again == text and again.template == text.template and again.params == text.params


def test_join_keeps_the_parts_and_the_separator():
    parts = [Text("{path} exists", path="a"), Text("{path} exists", path="b")]
    joined = Text.join("; ", parts)
    assert joined == "a exists; b exists"
    assert isinstance(joined, Text) and joined.params["then"] is parts[1]
    assert Text.join("; ", parts[:1]) is parts[0]
    assert Text.join("; ", []) == ""


def test_a_code_is_the_plain_name():
    line = Text("line {line}: {outcome}: {reason}", line=3, outcome=Code("satisfied"), reason="ok")
    assert line == "line 3: satisfied: ok" and isinstance(line.params["outcome"], Code)


def test_a_sentence_stored_as_data_comes_back_the_same():
    from workflows.domain.texts import text_from_data, text_to_data

    inner = Text("{path} exists", path="src/a.py")
    text = Text("stopped: {why} ({outcome})", why=inner, outcome=Code("needs_manual"))
    data = json.loads(json.dumps(text_to_data(text)))
    again = text_from_data(data)
    assert again == text and again.template == text.template
    assert again.params["why"].template == "{path} exists" and isinstance(again.params["outcome"], Code)
    assert text_from_data(text_to_data("plain")) == "plain"
