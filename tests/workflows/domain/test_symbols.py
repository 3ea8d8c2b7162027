from __future__ import annotations

import textwrap

import pytest

from workflows.domain.markdown import heading_texts, normalize_heading
from workflows.domain.symbols import defined_names, has_symbol, js_names, python_names

PYTHON = textwrap.dedent(
    '''
    """A module. def in_docstring(): not a definition."""
    import os

    MAX: int = 3
    plain = 1
    annotated_only: str
    if os.environ:
        CONDITIONAL = True
    SETTINGS = dict(
        keyword_argument=1,
        other=2,
    )
    text = """
    fake_in_string = 1
    def fake_function():
    """


    @decorator
    class Service(Base):
        attribute = 1
        typed: int = 2
        field_only: str

        def method(self):
            local = 1
            return local

        async def fetch(self):
            pass

        class Inner:
            deep = 1


    async def top_level():
        inner_local = 2

        def nested():
            pass
    x == 3
    else_: int = 1
    '''
)


def test_python_definitions() -> None:
    assert python_names(PYTHON) == {
        "MAX", "plain", "annotated_only", "CONDITIONAL", "SETTINGS", "text",
        "Service", "attribute", "typed", "field_only", "method", "fetch", "Inner", "deep",
        "top_level", "nested", "else_",
    }  # fmt: skip


@pytest.mark.parametrize(
    "absent", ["keyword_argument", "fake_in_string", "fake_function", "in_docstring", "local",
               "inner_local", "x", "os", "decorator"],
)  # fmt: skip
def test_python_non_definitions(absent: str) -> None:
    assert absent not in python_names(PYTHON)


def test_python_files_that_do_not_compile_are_still_scanned() -> None:
    assert python_names("def ok():\n    pass\n\ndef broken(:\nVALUE = (1,\n") >= {"ok", "broken"}


def test_python_backslash_continuations_and_crlf() -> None:
    assert python_names("A = 1 + \\\n    2\r\nB = 3\r\n") == {"A", "B"}


JS = textwrap.dedent(
    """
    // class InComment {}
    /* function alsoInComment() {} */
    const label = "function inString() {}";
    import { thing } from "./thing";
    export default function App() {}
    export async function load() {}
    function* generate() {}
    export const API_URL = "/api";
    let counter = 0;
    var legacy = 1;
    class Widget extends Base {}
    export class Panel {}
    export interface Props { id: number }
    export type Handler<T> = (value: T) => void;
    export enum Color { Red }
    const helper = () => 1;
    export { helper, counter as count };
    export type { Props as PanelProps };
    obj.function = 1;
    """
)


def test_js_and_ts_definitions() -> None:
    assert js_names(JS) == {
        "label", "App", "load", "generate", "API_URL", "counter", "legacy", "Widget", "Panel",
        "Props", "Handler", "Color", "helper", "count", "PanelProps",
    }  # fmt: skip


@pytest.mark.parametrize("absent", ["InComment", "alsoInComment", "inString", "thing", "obj"])
def test_js_non_definitions(absent: str) -> None:
    assert absent not in js_names(JS)


def test_the_language_follows_the_file_extension() -> None:
    both = "def py_func():\n    pass\nconst jsConst = 1;\n"
    assert defined_names(both, "a.py") == {"py_func"}
    assert defined_names(both, "a.tsx") == {"jsConst"}
    assert defined_names(both, "a.vue") == {"py_func", "jsConst"}


def test_dotted_symbols_need_every_part() -> None:
    names = python_names(PYTHON)
    assert has_symbol(names, "Service.method")
    assert not has_symbol(names, "Service.missing")
    assert has_symbol(names, "MAX") and not has_symbol(names, "local")


MARKDOWN = textwrap.dedent(
    """
    # Title #
    ##   Signing   In
    ###### Deep
    #NoSpace is not a heading
    Setext One
    ==========
    Setext Two
    ----------

    ---
    ```
    # In a fence
    ```
        # four spaces of indent make this code, not a heading
    """
)


def test_headings_of_any_level_atx_and_setext() -> None:
    assert heading_texts(MARKDOWN) == {"title", "signing in", "deep", "setext one", "setext two"}


def test_headings_are_normalized() -> None:
    assert normalize_heading("  Signing\t  IN ") == "signing in"
