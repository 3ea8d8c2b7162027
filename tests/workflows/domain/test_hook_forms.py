"""Evidence hooks as people write them: bold labels, evidence lists, ui files, folders, types."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows.domain.evidence import parse_hook
from workflows.domain.tasks_parser import parse_tasks
from workflows.domain.verification import TaskResult, verify_document
from workflows.domain.workspace import Workspace

UNKNOWN_SCREENSHOT = "unknown evidence type 'screenshot' (expected code, test, docs, ui)"


def _hooks(text: str) -> dict[str, list[tuple[int, str, str | None, str | None]]]:
    doc = parse_tasks(text)
    return {t.id: [(h.line, h.kind, h.path, h.error) for h in t.hooks] for t in doc.tasks}


def _verify(root: Path, tasks: str, files: dict[str, str] | None = None) -> TaskResult:
    for rel, body in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(body)
    return verify_document(Workspace(root), parse_tasks(tasks), spec_id="spec-x-001").tasks[0]


# --- the bold label ----------------------------------------------------------------------------


def test_a_bold_label_in_table_rows() -> None:
    text = (
        "- [ ] T001 Table\n"
        "| Task | Notes | Evidence |\n"
        "|---|---|---|\n"
        "| T001 | one | **Evidence:** code path=src/a.py |\n"
        "| T001 | two | **Evidence**: test path=tests/t.py contains=x |\n"
        "| T001 | three | __evidence:__ `docs path=d.md` |\n"
    )
    assert _hooks(text) == {
        "T001": [(4, "code", "src/a.py", None), (5, "test", "tests/t.py", None), (6, "docs", "d.md", None)]
    }


def test_a_label_on_its_own_line_opens_a_list_of_hooks() -> None:
    text = (
        "- [ ] T001 Plain label\n"
        "  **Evidence:**\n"
        "  - code: path=src/a.py symbol=foo\n"
        "  - test: path=tests/test_a.py\n"
        "  * code path=src/b.py\n"
        "  + `docs path=d.md heading=Intro`\n"
        "  - evidence: code path=src/c.py\n"
        "\n"
        "  - code path=after-the-blank.py\n"
    )
    hooks = _hooks(text)["T001"]
    assert [(line, kind, path) for line, kind, path, _ in hooks] == [
        (3, "code", "src/a.py"), (4, "test", "tests/test_a.py"), (5, "code", "src/b.py"),
        (6, "docs", "d.md"), (7, "code", "src/c.py"),
    ]  # fmt: skip
    assert all(error is None for *_, error in hooks)


@pytest.mark.parametrize(
    "label", ["**Evidence:**", "**Evidence**:", "Evidence:", "**Evidence**", "evidence", "*Evidence:*"]
)
def test_every_spelling_of_the_label_opens_a_list(label: str) -> None:
    assert _hooks(f"- [ ] T1 x\n{label}\n- code: path=a.py\n") == {"T1": [(3, "code", "a.py", None)]}


def test_blank_lines_between_the_label_and_its_first_bullet_are_fine() -> None:
    assert _hooks("- [ ] T1 x\n**Evidence:**\n\n\n- code path=a.py\n") == {"T1": [(5, "code", "a.py", None)]}


@pytest.mark.parametrize(
    "heading", ["#### Evidence", "### Evidence:", "## **Evidence**", "    #### Evidence"]
)
def test_an_evidence_heading_opens_a_list(heading: str) -> None:
    text = f"- [ ] T1 x\n{heading}\n- code: path=a.py\n- test: path=t.py\n"
    assert _hooks(text) == {"T1": [(3, "code", "a.py", None), (4, "test", "t.py", None)]}


def test_the_list_ends_at_a_line_that_is_not_a_bullet_and_at_the_next_task() -> None:
    text = (
        "- [ ] T1 x\n"
        "**Evidence:**\n"
        "- code path=a.py\n"
        "Some prose.\n"
        "- not a hook any more\n"
        "- [ ] T2 y\n"
        "#### Evidence\n"
        "- code path=b.py\n"
        "- [ ] T3 z\n"
        "- code path=c.py\n"
    )
    assert _hooks(text) == {"T1": [(3, "code", "a.py", None)], "T2": [(8, "code", "b.py", None)], "T3": []}
    assert parse_tasks(text).issues == ()


def test_under_a_bulleted_label_only_deeper_bullets_are_hooks() -> None:
    text = (
        "- [ ] 2.1 Create the model\n"
        "  - Write the interfaces\n"
        "  - **Evidence:**\n"
        "    - code: path=src/model.ts symbol=Model\n"
        "    - test: path=src/model.test.ts\n"
        "  - _Requirements: 2.1_\n"
    )
    assert _hooks(text) == {
        "2.1": [(4, "code", "src/model.ts", None), (5, "test", "src/model.test.ts", None)]
    }
    assert parse_tasks(text).issues == ()


def test_a_label_with_a_hook_after_it_is_one_hook_as_before() -> None:
    assert _hooks("- [ ] T1 x\n  **Evidence:** code path=a.py\n") == {"T1": [(2, "code", "a.py", None)]}


def test_an_empty_label_in_a_table_cell_is_still_an_empty_hook() -> None:
    assert _hooks("- [ ] T1 x\n| T1 | evidence: |\n") == {"T1": [(2, "", None, "empty evidence hook")]}


def test_a_label_before_any_task_gives_orphan_warnings() -> None:
    doc = parse_tasks("**Evidence:**\n- code path=a.py\n- [ ] T1 x\n")
    assert doc.tasks[0].hooks == ()
    assert [(i.line, i.severity) for i in doc.issues] == [(2, "warning")]


def test_list_hooks_are_verified_like_any_hook(tmp_path: Path) -> None:
    tasks = "- [x] T1 x\n**Evidence:**\n- code: path=src/a.py symbol=foo\n- test: path=tests/t.py\n"
    result = _verify(tmp_path, tasks, {"src/a.py": "def foo():\n    pass\n"})
    assert result.status == "verified"
    assert result.reasons == (
        "line 3: satisfied: symbol foo is defined in src/a.py",
        "line 4: not_satisfied: tests/t.py does not exist",
    )


# --- ui hooks with a file ------------------------------------------------------------------------

PAGE = 'export function Login() {\n  return <form id="login-form" data-testid="login" />;\n}\n'


def test_a_ui_hook_with_a_path_checks_the_file_and_the_selector(tmp_path: Path) -> None:
    # The selector is looked for as text, as it is written (no CSS matching).
    files = {"web/login.tsx": PAGE}
    found = _verify(tmp_path, '- [ ] T1 x\n  evidence: ui path=web/login.tsx selector="login-form"\n', files)
    assert (found.status, found.reasons[0]) == (
        "verified", 'line 2: satisfied: selector "login-form" is in web/login.tsx',
    )  # fmt: skip
    absent = _verify(tmp_path, '- [ ] T1 x\n  evidence: ui path=web/login.tsx selector="#signup"\n')
    assert (absent.status, absent.reasons[0]) == (
        "not_verified", 'line 2: not_satisfied: selector "#signup" is not in web/login.tsx',
    )  # fmt: skip
    exists = _verify(tmp_path, "- [ ] T1 x\n  evidence: ui screen=Login path=web/login.tsx route=/login\n")
    assert (exists.status, exists.reasons[0]) == ("verified", "line 2: satisfied: web/login.tsx exists")
    missing = _verify(tmp_path, "- [ ] T1 x\n  evidence: ui path=web/nope.tsx selector=x\n")
    assert (missing.status, missing.reasons[0]) == (
        "not_verified", "line 2: not_satisfied: web/nope.tsx does not exist",
    )  # fmt: skip


def test_a_ui_hook_without_a_path_still_needs_a_person(tmp_path: Path) -> None:
    result = _verify(tmp_path, "- [ ] T1 x\n  evidence: ui screen=Login route=/login selector=#form\n")
    assert result.status == "needs_manual"
    assert result.reasons[0] == (
        "line 2: needs_manual: ui hook (screen Login) cannot be checked statically; check it by hand"
    )


def test_a_ui_hook_needs_a_screen_or_a_path() -> None:
    assert parse_hook("ui route=/x").error == "a ui hook needs screen= or path="
    assert parse_hook("ui path=a.tsx").error is None


def test_a_ui_path_outside_the_workspace_is_invalid_scope(tmp_path: Path) -> None:
    result = _verify(tmp_path, "- [ ] T1 x\n  evidence: ui path=../page.tsx selector=x\n")
    assert result.status == "invalid_scope"


# --- regex on docs and test hooks ----------------------------------------------------------------


def test_docs_and_test_hooks_take_a_regex(tmp_path: Path) -> None:
    files = {
        "docs/guide.md": "# Guide\n\nSign in with your e-mail.\n",
        "tests/t.py": "def test_login_ok():\n    pass\n",
    }
    docs = _verify(
        tmp_path, '- [ ] T1 x\n  evidence: docs path=docs/guide.md regex="Sign in with .+"\n', files
    )
    assert docs.reasons[0] == 'line 2: satisfied: regex "Sign in with .+" matches docs/guide.md'
    test = _verify(tmp_path, '- [ ] T1 x\n  evidence: test path=tests/t.py regex="def test_login_\\w+"\n')
    assert test.status == "verified"
    failing = _verify(tmp_path, '- [ ] T1 x\n  evidence: test path=tests/t.py regex="def test_logout"\n')
    assert failing.reasons[0] == 'line 2: not_satisfied: regex "def test_logout" does not match tests/t.py'
    bad = parse_hook('docs path=d.md regex="(unclosed"')
    assert bad.error == "bad regex '(unclosed': missing ), unterminated subpattern at position 0"


# --- a directory as the path ---------------------------------------------------------------------


def test_a_directory_that_holds_files_is_evidence(tmp_path: Path) -> None:
    result = _verify(
        tmp_path, "- [ ] T1 x\n  evidence: code path=src/models\n", {"src/models/user.py": "X = 1\n"}
    )
    assert (result.status, result.reasons[0]) == (
        "verified", "line 2: satisfied: src/models is a directory that is not empty",
    )  # fmt: skip
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/unit").mkdir()
    test = _verify(tmp_path, '- [ ] T1 x\n  evidence: test path=tests command="pytest tests"\n')
    assert test.reasons[0] == (
        "line 2: satisfied: tests is a directory that is not empty (command recorded, not run: pytest tests)"
    )


def test_an_empty_directory_or_one_with_only_hidden_files_is_not(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/.gitkeep").write_text("")
    result = _verify(tmp_path, "- [ ] T1 x\n  evidence: docs path=docs\n")
    assert (result.status, result.reasons[0]) == (
        "not_verified",
        "line 2: not_satisfied: docs is an empty directory",
    )


@pytest.mark.parametrize(
    ("hook", "keys"),
    [
        ("code path=src symbol=User", "symbol="),
        ("code path=src contains=x regex=y", "contains=, regex="),
        ("docs path=src heading=Intro", "heading="),
        ("ui path=src selector=#x", "selector="),
    ],
)
def test_a_content_check_on_a_directory_is_invalid_evidence(tmp_path: Path, hook: str, keys: str) -> None:
    result = _verify(tmp_path, f"- [ ] T1 x\n  evidence: {hook}\n", {"src/a.py": "X = 1\n"})
    assert result.status == "invalid_evidence"
    assert result.reasons[0] == f"line 2: invalid_evidence: src is a directory: {keys} can only check a file"


def test_a_directory_through_a_symlink_out_of_the_workspace_is_invalid_scope(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("X = 1\n")
    root = tmp_path / "ws"
    root.mkdir()
    (root / "linked").symlink_to(outside)
    result = _verify(root, "- [ ] T1 x\n  evidence: code path=linked\n")
    assert result.status == "invalid_scope"


# --- unknown types -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "screenshot path=docs/a.png",
        "screenshot: path=docs/a.png",
        "screenshot of the login page",
        'screenshot path="unterminated',
        "`screenshot path=a.png`",
    ],
)
def test_an_unknown_type_is_reported_as_one(body: str) -> None:
    hook = parse_hook(body, 4)
    assert (hook.kind, hook.error) == ("screenshot", UNKNOWN_SCREENSHOT)


def test_an_unknown_type_makes_the_task_invalid_evidence_with_that_reason(tmp_path: Path) -> None:
    tasks = "- [ ] T1 x\n**Evidence:**\n- screenshot: path=a.png\n"
    result = _verify(tmp_path, tasks)
    assert result.status == "invalid_evidence"
    assert result.reasons == (f"line 3: invalid_evidence: {UNKNOWN_SCREENSHOT}",)
    issues = parse_tasks(tasks).issues
    assert [(i.line, i.severity, i.message) for i in issues] == [(3, "error", f"T1: {UNKNOWN_SCREENSHOT}")]


def test_the_type_may_be_capitalised_or_end_in_a_colon() -> None:
    hook = parse_hook("Code: path=a.py symbol=f")
    assert (hook.kind, hook.path, hook.error) == ("code", "a.py", None)


def test_a_known_type_with_a_syntax_error_keeps_its_own_reason() -> None:
    assert parse_hook("code src/a.py").error == "expected key=value, found 'src/a.py'"
    assert parse_hook("path=a.py").error == "missing hook type before key=value pairs"
