from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from workflows.domain.layouts import find_spec
from workflows.domain.tasks_parser import parse_tasks
from workflows.domain.workspace import Workspace

from .conftest import BASIC_SPEC


def _basic_document(ws: Workspace):  # type: ignore[no-untyped-def]
    return parse_tasks(ws.read_text(find_spec(ws, BASIC_SPEC).file("tasks.md")).text or "")


def test_it_parses_the_sample_tasks_with_line_numbers(basic_ws: Workspace) -> None:
    doc = _basic_document(basic_ws)
    assert [(t.id, t.checked, t.line) for t in doc.tasks] == [
        ("TSK-AUTH-001", True, 12),
        ("TSK-AUTH-002", True, 16),
        ("TSK-AUTH-003", False, 19),
        ("TSK-AUTH-004", False, 24),
        ("TSK-AUTH-005", False, 31),
        ("T006", True, 34),
        ("T007", True, 37),
        ("T008", False, 39),
        ("T009", False, 42),
    ]
    assert doc.phases == ("Phase 1: Foundations", "Phase 2: Sessions and docs")
    assert doc.task("TSK-AUTH-001").title == "Password hashing helper"  # type: ignore[union-attr]
    assert doc.task("TSK-AUTH-003").phase == "Phase 1: Foundations"  # type: ignore[union-attr]
    assert doc.task("T009").phase == "Phase 2: Sessions and docs"  # type: ignore[union-attr]


def test_hooks_belong_to_the_task_above_them(basic_ws: Workspace) -> None:
    doc = _basic_document(basic_ws)
    hooks = {t.id: [(h.line, h.kind) for h in t.hooks] for t in doc.tasks}
    assert hooks["TSK-AUTH-001"] == [(13, "code"), (14, "test")]
    assert hooks["TSK-AUTH-002"] == [(17, "code")]  # bulleted
    assert hooks["TSK-AUTH-004"] == [(25, "code"), (29, "docs")]  # the table row is its hook
    assert hooks["T007"] == []
    assert doc.task("T009").hooks[0].error == "a code hook needs path="  # type: ignore[union-attr]
    assert [(i.line, i.severity) for i in doc.issues] == [(43, "error")]


def test_it_accepts_star_and_plus_bullets_and_capital_x() -> None:
    doc = parse_tasks("* [X] A-1 Star\n+ [x] A-2 Plus\n  - [ ] A-3 Nested\n\t- [ ] A-4 Tab\n")
    assert [(t.id, t.checked) for t in doc.tasks] == [
        ("A-1", True), ("A-2", True), ("A-3", False), ("A-4", False),
    ]  # fmt: skip


def test_the_task_id_is_the_first_token_stripped_of_markup() -> None:
    doc = parse_tasks("- [ ] T001: Colon\n- [ ] **T002** Bold\n- [ ] `T003`\tCode\n- [ ] T004\n")
    assert [(t.id, t.title) for t in doc.tasks] == [
        ("T001", "Colon"), ("T002", "Bold"), ("T003", "Code"), ("T004", ""),
    ]  # fmt: skip


def test_a_checkbox_without_a_task_id_is_reported_and_ends_the_previous_task() -> None:
    text = "- [ ] T001 Real\n- [ ] Write the docs\n  evidence: code path=a.py\n"
    doc = parse_tasks(text)
    assert [t.id for t in doc.tasks] == ["T001"] and doc.tasks[0].hooks == ()
    messages = [(i.line, i.severity, i.message) for i in doc.issues]
    assert messages[0] == (2, "warning", "checkbox item without a task id: 'Write the docs'")
    assert messages[1][:2] == (3, "warning") and "before any task" in messages[1][2]


def test_hooks_before_the_first_task_are_orphan_warnings() -> None:
    doc = parse_tasks("evidence: code path=a.py\n\n- [ ] T1 First\n")
    assert doc.tasks[0].hooks == ()
    assert doc.issues[0].line == 1 and doc.issues[0].severity == "warning"
    assert "evidence hook before any task is ignored" in doc.issues[0].message


def test_fenced_code_is_ignored() -> None:
    text = "```\n- [x] FAKE-1 In a fence\n```\n- [ ] T1 Real\n~~~~\nevidence: code path=a.py\n~~~~\n"
    doc = parse_tasks(text)
    assert [t.id for t in doc.tasks] == ["T1"] and doc.tasks[0].hooks == ()


def test_duplicate_task_ids_are_errors() -> None:
    doc = parse_tasks("- [ ] T1 One\n- [x] T1 Again\n")
    assert len(doc.tasks) == 2
    assert doc.issues[0].message == "duplicate task id T1 (first on line 1)"


def test_evidence_must_be_a_word_of_its_own() -> None:
    doc = parse_tasks("- [ ] T1 One\n  noevidence: code path=a.py\n  Evidence: code path=b.py\n")
    assert [h.path for h in doc.tasks[0].hooks] == ["b.py"]


def test_crlf_and_a_byte_order_mark_keep_offsets_exact() -> None:
    text = "\ufeff- [x] T1 First\r\n  evidence: code path=a.py\r\n- [ ] T2 Second\r\n"
    doc = parse_tasks(text)
    assert [(t.id, t.checked, t.box_offset) for t in doc.tasks] == [
        ("T1", True, 4),
        ("T2", False, 3),
    ]
    assert doc.tasks[0].hooks[0].path == "a.py"
    lines = text.split("\n")
    assert lines[0][4] == "x" and lines[2][3] == " "


def test_hook_paths_lists_each_well_formed_path_once() -> None:
    doc = parse_tasks(
        "- [ ] T1 A\n  evidence: code path=a.py\n  evidence: code path=a.py contains=x\n"
        "- [ ] T2 B\n  evidence: docs path=b.md\n  evidence: code contains=x\n"
    )
    assert doc.hook_paths() == ("a.py", "b.md")


@given(st.text())
def test_it_never_raises_on_arbitrary_text(text: str) -> None:
    doc = parse_tasks(text)
    lines = text.split("\n")
    for task in doc.tasks:
        assert lines[task.line - 1][task.box_offset] in " xX-\u2705\u2b1c"


@given(st.lists(st.sampled_from([
    "- [ ] T1 a", "- [x] T2 b", "evidence: code path=a.py", "  - evidence: ui", "| x | evidence: |",
    "```", "### Phase 1: x", 'evidence: code path="open', "- [ ]", "", "text ผิดพลาด",
]), max_size=30))  # fmt: skip
def test_it_never_raises_on_markdown_like_text(lines: list[str]) -> None:
    parse_tasks("\n".join(lines))


def test_it_parses_the_lab_fixture(lab_root: Path) -> None:
    text = (lab_root / "specs/lab/spec-lab-001-every-status/tasks.md").read_text()
    doc = parse_tasks(text)
    assert len(doc.tasks) == 27 and "FAKE-001" not in [t.id for t in doc.tasks]
    lab012 = doc.task("LAB-012")
    assert lab012 is not None and [h.get("contains") for h in lab012.hooks] == [None, "x | y"]
