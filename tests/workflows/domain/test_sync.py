from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.domain.reports import read_summary, write_verification_report
from workflows.domain.sync import (
    latest_verify_summary,
    statuses_from_summary,
    sync_checkboxes,
    sync_spec_tasks,
    write_sync_report,
)
from workflows.domain.tasks_parser import parse_tasks
from workflows.domain.verification import TaskStatus, verify_spec
from workflows.domain.workspace import Workspace

from .conftest import BASIC_SPEC

TASKS_REL = "specs/core/spec-core-001-authentication/tasks.md"


def test_it_syncs_the_sample_to_its_verify_report(basic_ws: Workspace) -> None:
    before = (basic_ws.root / TASKS_REL).read_text()
    report = verify_spec(basic_ws, BASIC_SPEC)
    result = sync_checkboxes(before, report.statuses(), filename=TASKS_REL)
    assert result.flipped == ("TSK-AUTH-004", "T006", "T007")
    assert result.untouched == ()
    assert "- [x] TSK-AUTH-004 Idle session expiry" in result.text
    assert "- [ ] T006 Login screen states" in result.text
    assert "- [ ] T007 Claimed done without evidence" in result.text
    assert result.diff.startswith(f"--- a/{TASKS_REL}\n+++ b/{TASKS_REL}\n")
    assert "-- [ ] TSK-AUTH-004 Idle session expiry\n+- [x] TSK-AUTH-004" in result.diff
    after = parse_tasks(result.text)
    assert [t.id for t in after.tasks if t.checked] == [
        "TSK-AUTH-001",
        "TSK-AUTH-002",
        "TSK-AUTH-004",
    ]


def test_nothing_to_do_gives_the_same_text_and_no_diff() -> None:
    text = "- [x] T1 a\n- [ ] T2 b\n"
    result = sync_checkboxes(text, {"T1": "verified", "T2": "not_verified"})
    assert (result.text, result.diff, result.flipped, result.changed) == (text, "", (), False)


def test_a_capital_x_stays_when_the_task_is_verified() -> None:
    assert sync_checkboxes("- [X] T1 a\n", {"T1": True}).text == "- [X] T1 a\n"
    assert sync_checkboxes("- [X] T1 a\n", {"T1": False}).text == "- [ ] T1 a\n"


def test_tasks_missing_from_the_report_are_left_alone() -> None:
    result = sync_checkboxes("- [x] T1 a\n- [x] T2 b\n", {"T1": "not_verified"})
    assert result.text == "- [ ] T1 a\n- [x] T2 b\n" and result.untouched == ("T2",)


def test_every_status_other_than_verified_unchecks() -> None:
    for status in TaskStatus:
        expected = "x" if status is TaskStatus.VERIFIED else " "
        assert sync_checkboxes("- [x] T1 a\n", {"T1": str(status)}).text == f"- [{expected}] T1 a\n"


def test_crlf_a_bom_and_unicode_survive() -> None:
    text = "\ufeff# งาน\r\n- [ ] T1 ผิดพลาด 🚀\r\n  evidence: code path=a.py\r\n- [x] T2 ä\r\n"
    result = sync_checkboxes(text, {"T1": "verified", "T2": "not_verified"})
    assert result.text == "\ufeff# งาน\r\n- [x] T1 ผิดพลาด 🚀\r\n  evidence: code path=a.py\r\n- [ ] T2 ä\r\n"


def test_it_writes_tasks_md_changing_only_the_checkbox_bytes(basic_ws: Workspace) -> None:
    path = basic_ws.root / TASKS_REL
    before = path.read_bytes()
    result = sync_spec_tasks(basic_ws, BASIC_SPEC, verify_spec(basic_ws, BASIC_SPEC).statuses())
    after = path.read_bytes()
    assert len(after) == len(before) and after.decode() == result.text
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(changed) == 3 and all(before[i - 1 : i] == b"[" for i in changed)


def test_a_dry_run_does_not_write(basic_ws: Workspace) -> None:
    path = basic_ws.root / TASKS_REL
    before = path.read_bytes()
    result = sync_spec_tasks(basic_ws, BASIC_SPEC, {"T007": "missing_evidence"}, write=False)
    assert result.flipped == ("T007",) and path.read_bytes() == before


def test_it_refuses_a_tasks_md_that_is_not_utf8(basic_ws: Workspace) -> None:
    (basic_ws.root / TASKS_REL).write_bytes(b"- [x] T1 caf\xe9\n")
    with pytest.raises(ValueError):
        sync_spec_tasks(basic_ws, BASIC_SPEC, {"T1": "not_verified"})
    assert (basic_ws.root / TASKS_REL).read_bytes() == b"- [x] T1 caf\xe9\n"


def test_it_syncs_from_the_latest_written_verify_report(basic_ws: Workspace) -> None:
    write_verification_report(basic_ws, verify_spec(basic_ws, BASIC_SPEC, run_id="v1"))
    found = latest_verify_summary(basic_ws, BASIC_SPEC)
    assert found is not None and found[0].run_id == "v1"
    statuses = statuses_from_summary(found[1])
    assert statuses["TSK-AUTH-004"] == "verified" and statuses["T007"] == "missing_evidence"
    result = sync_spec_tasks(basic_ws, BASIC_SPEC, statuses)
    ref = write_sync_report(basic_ws, BASIC_SPEC, "s1", result, source_run="v1")
    summary = read_summary(basic_ws, ref)
    assert summary is not None and summary["flipped"] == ["TSK-AUTH-004", "T006", "T007"]
    assert "```diff" in (basic_ws.root / ref.markdown_rel).read_text()
    assert latest_verify_summary(basic_ws, "spec-feature-002-orders") is None


def test_statuses_from_a_malformed_summary() -> None:
    assert statuses_from_summary({}) == {}
    assert statuses_from_summary({"tasks": [{"id": 3}, "x", {"id": "T1", "status": "verified"}]}) == {
        "T1": "verified"
    }


# --- property: only checkbox characters ever change -----------------------------------------

IDS = ["T1", "T2", "T3", "TSK-A-001", "X9"]
_free_text = st.text(st.characters(exclude_characters="\n", exclude_categories=("Cs",)), max_size=20)
_task_line = st.builds(
    lambda indent, bullet, box, task_id, title: f"{indent}{bullet} [{box}] {task_id} {title}",
    st.sampled_from(["", "  ", "\t", "   "]),
    st.sampled_from(["-", "*", "+"]),
    st.sampled_from([" ", "x", "X"]),
    st.sampled_from(IDS),
    _free_text,
)
_hook_line = st.builds(lambda t: f"  evidence: code path=src/{t}.py", _free_text)
_other_line = st.one_of(
    _free_text,
    st.sampled_from(["```", "### Phase 1: ผิดพลาด", "| T1 | evidence: docs path=a.md |", "- [ ]"]),
)
_lines = st.lists(
    st.tuples(st.one_of(_task_line, _hook_line, _other_line), st.sampled_from(["\n", "\r\n"])),
    max_size=25,
)
_statuses = st.dictionaries(st.sampled_from(IDS), st.sampled_from([str(s) for s in TaskStatus]))


@settings(max_examples=300, deadline=None)
@given(_lines, st.booleans(), _statuses)
def test_sync_changes_only_checkbox_characters(
    lines: list[tuple[str, str]], final_newline: bool, statuses: dict[str, str]
) -> None:
    text = "".join(line + end for line, end in lines)
    if not final_newline and text.endswith("\n"):
        text = text[: -2 if text.endswith("\r\n") else -1]
    result = sync_checkboxes(text, statuses)
    before, after = parse_tasks(text), parse_tasks(result.text)

    assert len(result.text) == len(text)
    boxes = {_position(text, t.line, t.box_offset) for t in before.tasks}
    for i, (a, b) in enumerate(zip(text, result.text, strict=True)):
        if a != b:
            assert i in boxes and {a.lower(), b.lower()} == {" ", "x"}
    assert [(t.id, t.line) for t in after.tasks] == [(t.id, t.line) for t in before.tasks]
    for old, new in zip(before.tasks, after.tasks, strict=True):
        expected = statuses[old.id] == "verified" if old.id in statuses else old.checked
        assert new.checked == expected
    flipped = [o.id for o, n in zip(before.tasks, after.tasks, strict=True) if o.checked != n.checked]
    assert list(result.flipped) == flipped
    assert (result.diff == "") == (result.text == text)
    assert sync_checkboxes(result.text, statuses).text == result.text


def _position(text: str, line: int, offset: int) -> int:
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    return starts[line - 1] + offset
