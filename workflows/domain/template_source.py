"""A workflow template's text, YAML or JSON, read into the document the format validates.

Pure Python (no Django). What the document must hold is domain/template_format.py's.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from workflows.domain.json_values import MAX_DEPTH
from workflows.domain.template_validation import Problem, TemplateInvalid


def parse_source(text: str, content_type: str = "") -> dict[str, Any]:
    """A template document from YAML or JSON text; TemplateInvalid if it is neither.

    YAML builds JSON's types only (see _TemplateLoader); both kinds are refused beyond
    MAX_DEPTH levels of nesting before the deep part is built.
    """
    kind = "JSON" if "json" in content_type else "YAML"
    try:
        data = _load_json(text) if kind == "JSON" else _load_yaml(text)
    except TemplateInvalid:
        raise
    except (ValueError, yaml.YAMLError) as exc:
        raise TemplateInvalid([Problem(f"not valid {kind}: {exc}")]) from None
    if not isinstance(data, dict):
        raise TemplateInvalid([Problem("a template must be a mapping with name and steps")])
    return data


def _too_deep(line: int | None = None) -> TemplateInvalid:
    where = f" (line {line})" if line else ""
    return TemplateInvalid([Problem(f"nested more than {MAX_DEPTH} levels deep{where}")])


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:  # json's C parser stops deep input quickly; the walk does the rest
        raise _too_deep() from None


def _load_yaml(text: str) -> Any:
    loader = _TemplateLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


class _TemplateLoader(yaml.SafeLoader):
    """YAML that builds what a JSON column holds, checked event by event as it is built.

    - aliases are refused: a few KiB of them expand to gigabytes once stored as JSON;
    - nesting beyond MAX_DEPTH is refused at the event that opens level MAX_DEPTH + 1, so a
      20,000-deep document costs a few dozen events, never a deep document (or a deep
      recursion) built first;
    - an unquoted date (`2024-01-01`) stays the text written: JSON has no date type, and a
      template only ever uses such a value as text. Other tags JSON cannot hold (!!binary,
      !!set, !!omap, an explicit !!timestamp) build their Python values, which validate()
      refuses naming the step and field; so are non-finite numbers (.inf, .nan).
    """

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def get_event(self) -> yaml.Event:
        event: yaml.Event = super().get_event()  # type: ignore[no-untyped-call]  # PyYAML is untyped
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            message = (
                f"YAML anchors and aliases are not accepted in templates: remove the *alias (line {line})"
            )
            raise TemplateInvalid([Problem(message)])
        if isinstance(event, yaml.CollectionStartEvent):
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise _too_deep(event.start_mark.line + 1 if event.start_mark else None)
        elif isinstance(event, yaml.CollectionEndEvent):
            self._depth -= 1
        return event
