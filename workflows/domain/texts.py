"""Sentences the domain writes for people, in English, that remember how they were made.

A `Text` is the English sentence itself (a `str`: reports, the API and the commands use it
as it is) plus its `template`, with `{name}` fields, and the values that filled them. The
web pages put the template through the reader's language and fill it again
(`workflows.templatetags.workflow_tags.in_language`). A `Code` among the values is a
machine name, such as a hook outcome, which a page may show by its label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Code(str):
    """A machine name inside a sentence (`satisfied`, `needs_manual`)."""


class Text(str):
    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Text:
        text = super().__new__(cls, template.format(**params))
        text.template = template
        text.params = params
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return _text, (self.template, self.params)

    # Called on the class, Text.join(separator, parts): not str.join on an instance.
    @classmethod
    def join(cls, separator: str, parts: Sequence[str]) -> str:  # type: ignore[override]
        """The parts joined, still a Text when there is more than one."""
        if not parts:
            return ""
        joined = parts[0]
        for part in parts[1:]:
            joined = cls("{first}" + separator + "{then}", first=joined, then=part)
        return joined


def _text(template: str, params: dict[str, Any]) -> Text:
    return Text(template, **params)


def reason_of(exc: BaseException) -> str:
    """Why `exc` was raised, in words: the sentence (a Text) it was raised with, kept as one
    for the pages, or its str. The English is the same either way."""
    first = exc.args[0] if len(exc.args) == 1 else None
    return first if isinstance(first, Text) else str(exc)


def text_to_data(value: object) -> object:
    """A sentence as JSON data that keeps its template and values (nested sentences and codes
    too), so it can be stored (a run's outcome) and shown later in the reader's language."""
    if isinstance(value, Text):
        return {"template": value.template, "params": {k: text_to_data(v) for k, v in value.params.items()}}
    if isinstance(value, Code):
        return {"code": str(value)}
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def sentence_data(value: object) -> object:
    """What a `*_text` field stores beside its plain copy: the sentence's template and values
    (text_to_data), or {} when `value` was not made from a template."""
    return text_to_data(value) if isinstance(value, Text) else {}


def text_or(data: object, plain: str) -> str:
    """The sentence `text_to_data` stored beside a plain copy (an error, a reason), or that
    plain copy when no sentence was stored."""
    stored = text_from_data(data) if data else None
    return stored if isinstance(stored, Text) else plain


def text_from_data(data: object) -> object:
    """The sentence `text_to_data` stored: a Text (or Code) again; plain values as they are."""
    if isinstance(data, dict) and set(data) == {"template", "params"} and isinstance(data["params"], dict):
        return Text(str(data["template"]), **{k: text_from_data(v) for k, v in data["params"].items()})
    if isinstance(data, dict) and set(data) == {"code"}:
        return Code(str(data["code"]))
    return data
