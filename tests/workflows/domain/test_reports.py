from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from workflows.domain.ci_results import JUnitResult, parse_coverage, parse_junit
from workflows.domain.reports import (
    QUALITY_GATE_WORKFLOW,
    TEST_WORKFLOW,
    VERIFY_WORKFLOW,
    ReportIndex,
    check_name,
    latest_report,
    list_reports,
    new_run_id,
    read_summary,
    write_report,
)
from workflows.domain.workspace import ScopeError, Workspace

from .conftest import T0, set_mtime


def _report(ws: Workspace, workflow: str, run: str, summary: dict[str, object], at: int) -> None:
    ref = write_report(ws, workflow, run, summary, f"# {run}\n")
    set_mtime(ws.root / ref.summary_rel, at)


def test_new_run_ids_sort_by_time_and_do_not_collide() -> None:
    moment = datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    assert re.fullmatch(r"20250304T050607890123Z-[0-9a-f]{6}", new_run_id(moment))
    assert len({new_run_id(moment) for _ in range(50)}) == 50
    assert check_name(new_run_id()) and new_run_id(moment) < new_run_id(moment.replace(year=2026))


@pytest.mark.parametrize("bad", ["", ".", "..", "../x", "a/b", "a\\b", "-x", "x" * 200, "a b"])
def test_run_ids_are_one_safe_path_segment(bad: str) -> None:
    with pytest.raises(ValueError):
        check_name(bad)


def test_write_report_refuses_a_reports_folder_that_escapes(tmp_path: Path) -> None:
    root, outside = tmp_path / "ws", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / ".spec").symlink_to(outside)
    with pytest.raises(ScopeError):
        write_report(Workspace(root), VERIFY_WORKFLOW, "run-1", {}, "")
    assert list(outside.iterdir()) == []


def test_reports_are_listed_oldest_first_by_modification_time(basic_ws: Workspace) -> None:
    _report(basic_ws, VERIFY_WORKFLOW, "b-run", {"spec_id": "s"}, T0)
    _report(basic_ws, VERIFY_WORKFLOW, "a-run", {"spec_id": "s"}, T0 + 5)
    _report(basic_ws, VERIFY_WORKFLOW, "c-run", {"spec_id": "s"}, T0 + 5)
    (basic_ws.root / ".spec/reports/verify-tasks-progress/incomplete").mkdir()
    assert [r.run_id for r in list_reports(basic_ws, VERIFY_WORKFLOW)] == [
        "b-run",
        "a-run",
        "c-run",
    ]
    assert list_reports(basic_ws, TEST_WORKFLOW) == []


def test_a_corrupt_summary_reads_as_none(basic_ws: Workspace) -> None:
    _report(basic_ws, TEST_WORKFLOW, "run-1", {}, T0)
    (basic_ws.root / ".spec/reports/test-suite-runner/run-1/summary.json").write_text("{nope")
    ref = list_reports(basic_ws, TEST_WORKFLOW)[0]
    assert read_summary(basic_ws, ref) is None
    assert latest_report(basic_ws, TEST_WORKFLOW).passed is None  # type: ignore[union-attr]


def test_verify_reports_count_only_for_their_spec(basic_ws: Workspace) -> None:
    _report(basic_ws, VERIFY_WORKFLOW, "v1", {"spec_id": "spec-a-001"}, T0)
    _report(basic_ws, VERIFY_WORKFLOW, "v2", {"spec_id": "spec-b-001"}, T0 + 1)
    _report(basic_ws, VERIFY_WORKFLOW, "v3", {}, T0 + 2)
    index = ReportIndex.load(basic_ws)
    assert index.latest(VERIFY_WORKFLOW, "spec-a-001").ref.run_id == "v1"  # type: ignore[union-attr]
    assert index.latest(VERIFY_WORKFLOW, "spec-c-001") is None


def test_test_and_gate_reports_without_a_spec_count_for_every_spec(basic_ws: Workspace) -> None:
    _report(basic_ws, TEST_WORKFLOW, "t1", {"spec_id": "spec-a-001", "passed": False}, T0)
    _report(basic_ws, TEST_WORKFLOW, "t2", {"passed": True}, T0 + 1)
    _report(basic_ws, TEST_WORKFLOW, "t3", {"spec_id": "spec-b-001", "passed": False}, T0 + 2)
    _report(basic_ws, QUALITY_GATE_WORKFLOW, "g1", {"passed": True}, T0)
    index = ReportIndex.load(basic_ws)
    assert index.latest(TEST_WORKFLOW, "spec-a-001").passed is True  # type: ignore[union-attr]
    assert index.latest(TEST_WORKFLOW, "spec-b-001").passed is False  # type: ignore[union-attr]
    assert index.latest(QUALITY_GATE_WORKFLOW, "spec-z-001").passed is True  # type: ignore[union-attr]


def test_a_test_report_without_passed_falls_back_to_its_junit_xml(basic_ws: Workspace) -> None:
    _report(basic_ws, TEST_WORKFLOW, "t1", {"spec_id": "s"}, T0)
    junit = basic_ws.root / ".spec/reports/test-suite-runner/t1/junit.xml"
    junit.write_text('<testsuite tests="2" failures="1" errors="0"/>')
    assert ReportIndex.load(basic_ws).latest(TEST_WORKFLOW, "s").passed is False  # type: ignore[union-attr]


def test_the_index_memo_skips_unchanged_summaries(basic_ws: Workspace) -> None:
    _report(basic_ws, TEST_WORKFLOW, "t1", {"passed": True}, T0)
    memo: dict[tuple[str, str], object] = {}
    first = ReportIndex.load(basic_ws, memo).latest(TEST_WORKFLOW)  # type: ignore[arg-type]
    assert ReportIndex.load(basic_ws, memo).latest(TEST_WORKFLOW) is first  # type: ignore[arg-type]
    _report(basic_ws, TEST_WORKFLOW, "t1", {"passed": False}, T0 + 1)
    changed = ReportIndex.load(basic_ws, memo).latest(TEST_WORKFLOW)  # type: ignore[arg-type]
    assert changed is not first and changed.passed is False  # type: ignore[union-attr]


# --- CI result files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (
            '<testsuites tests="5" failures="0" errors="0" skipped="1"><testsuite tests="5"/></testsuites>',
            JUnitResult(5, 0, 0, 1),
        ),
        (
            '<testsuites><testsuite tests="2" failures="1"/><testsuite tests="3" errors="1"/></testsuites>',
            JUnitResult(5, 1, 1, 0),
        ),
        ('<testsuite tests="3" failures="0" errors="0" skips="2"/>', JUnitResult(3, 0, 0, 2)),
        ('<testsuite tests="0"/>', JUnitResult(0, 0, 0, 0)),
    ],
)
def test_junit_totals(xml: str, expected: JUnitResult) -> None:
    assert parse_junit(xml) == expected


def test_junit_passed_needs_tests_and_no_failures_or_errors() -> None:
    assert JUnitResult(5, 0, 0, 0).passed
    assert not JUnitResult(0, 0, 0, 0).passed
    assert not JUnitResult(5, 1, 0, 0).passed
    assert not JUnitResult(5, 0, 1, 0).passed


@pytest.mark.parametrize("bad", ["not xml", "<coverage/>", "<html/>", ""])
def test_junit_garbage_is_none(bad: str) -> None:
    assert parse_junit(bad) is None


@pytest.mark.parametrize(
    ("text", "percent"),
    [
        ('{"totals": {"percent_covered": 91.5}}', 91.5),
        ('{"totals": {"percent_covered": 80}}', 80.0),
        ('<?xml version="1.0" ?><coverage line-rate="0.72"><packages/></coverage>', 72.0),
        ('{"totals": {}}', None),
        ('{"totals": {"percent_covered": "high"}}', None),
        ("<coverage/>", None),
        ("<coverage line-rate='x'/>", None),
        ("plain text", None),
        ("{broken", None),
    ],
)
def test_coverage_from_coverage_py_json_or_cobertura_xml(text: str, percent: float | None) -> None:
    result = parse_coverage(text)
    assert result == pytest.approx(percent) if percent is not None else result is None


def test_entity_expansion_bombs_are_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + ']><testsuite tests="&i;"/>'
    )
    assert parse_junit(bomb) is None
