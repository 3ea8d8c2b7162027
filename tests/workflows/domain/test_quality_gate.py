from __future__ import annotations

from typing import Any

import pytest

from workflows.domain.quality_gate import (
    DEFAULT_THRESHOLDS,
    GateInputs,
    evaluate_quality_gate,
    gather_inputs,
    merge_thresholds,
    run_quality_gate,
    write_quality_gate_report,
)
from workflows.domain.status import spec_status
from workflows.domain.workspace import Workspace

from .conftest import BASIC_SPEC

GATE_SPEC = "spec-q-001-gate"


def _inputs(**changes: Any) -> GateInputs:
    base: dict[str, Any] = dict(
        completion_rate=1.0, verified_ratio=1.0, tests_passed=True, coverage=85.0,
        invalid_evidence=0,
    )  # fmt: skip
    return GateInputs(**{**base, **changes})


def _criteria(result: Any) -> dict[str, tuple[bool, Any, Any]]:
    return {c.name: (c.passed, c.actual, c.threshold) for c in result.criteria}


def test_the_defaults() -> None:
    assert DEFAULT_THRESHOLDS == {
        "min_completion_rate": 1.0,
        "min_verified_ratio": 1.0,
        "require_tests_passed": True,
        "min_coverage": 80.0,
        "max_invalid_evidence": 0,
    }


def test_a_spec_meeting_every_threshold_passes() -> None:
    result = evaluate_quality_gate(_inputs())
    assert result.passed and result.failed == ()
    assert _criteria(result) == {
        "completion_rate": (True, 1.0, 1.0),
        "verified_ratio": (True, 1.0, 1.0),
        "invalid_evidence": (True, 0, 0),
        "tests_passed": (True, True, True),
        "coverage": (True, 85.0, 80.0),
    }


@pytest.mark.parametrize(
    ("change", "criterion", "actual"),
    [
        ({"completion_rate": 0.5}, "completion_rate", 0.5),
        ({"verified_ratio": 0.75}, "verified_ratio", 0.75),
        ({"tests_passed": False}, "tests_passed", False),
        ({"tests_passed": None}, "tests_passed", None),
        ({"coverage": 79.9}, "coverage", 79.9),
        ({"coverage": None}, "coverage", None),
        ({"invalid_evidence": 1}, "invalid_evidence", 1),
    ],
)
def test_each_criterion_can_fail_on_its_own(change: dict[str, Any], criterion: str, actual: Any) -> None:
    result = evaluate_quality_gate(_inputs(**change))
    assert not result.passed
    assert [c.name for c in result.failed] == [criterion]
    assert result.failed[0].actual == actual and result.failed[0].reason


def test_reasons_show_actual_and_threshold() -> None:
    result = evaluate_quality_gate(_inputs(coverage=72.0, verified_ratio=0.5))
    reasons = {c.name: c.reason for c in result.criteria}
    assert reasons["coverage"] == "coverage 72.0% is below 80%"
    assert reasons["verified_ratio"] == "verified_ratio 50% is below 100%"
    assert reasons["tests_passed"] == "tests passed"


def test_thresholds_can_be_overridden_and_switched_off() -> None:
    loose = {"min_completion_rate": 0.5, "min_coverage": 70, "max_invalid_evidence": 2}
    assert evaluate_quality_gate(_inputs(completion_rate=0.5, coverage=70, invalid_evidence=2), loose).passed
    off = {"min_coverage": None, "require_tests_passed": False}
    result = evaluate_quality_gate(_inputs(coverage=None, tests_passed=None), off)
    assert result.passed and "coverage" not in _criteria(result)
    assert result.thresholds["min_coverage"] is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_cov": 1}, "unknown quality gate threshold 'min_cov'"),
        ({"require_tests_passed": "yes"}, "require_tests_passed must be true or false"),
        ({"min_coverage": "80"}, "min_coverage must be a number"),
        ({"min_verified_ratio": True}, "min_verified_ratio must be a number"),
        ({"min_completion_rate": 1.5}, "min_completion_rate must be between 0 and 1"),
        ({"max_invalid_evidence": -1}, "max_invalid_evidence must be a whole number >= 0"),
        ({"max_invalid_evidence": 0.5}, "max_invalid_evidence must be a whole number >= 0"),
    ],
)
def test_bad_thresholds_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        merge_thresholds(overrides)


def test_the_quality_fixture_passes_from_its_latest_test_report(quality_ws: Workspace) -> None:
    result = run_quality_gate(quality_ws, GATE_SPEC)
    assert result.passed, [c.reason for c in result.failed]
    inputs = gather_inputs(quality_ws, spec_status(quality_ws, GATE_SPEC))
    assert inputs.tests_source == ".spec/reports/test-suite-runner/run-1/junit.xml"
    assert inputs.coverage == 91.5
    assert inputs.coverage_source == ".spec/reports/test-suite-runner/run-1/coverage.json"


def test_cobertura_coverage_below_the_default_fails(quality_ws: Workspace) -> None:
    result = run_quality_gate(quality_ws, GATE_SPEC, coverage_file="coverage.xml")
    assert [c.name for c in result.failed] == ["coverage"]
    assert result.failed[0].actual == 72.0


def test_a_failing_junit_file_fails_the_tests_criterion(quality_ws: Workspace) -> None:
    result = run_quality_gate(quality_ws, GATE_SPEC, junit_file="junit-failed.xml")
    assert [c.name for c in result.failed] == ["tests_passed"]


def test_an_unparsable_junit_file_counts_as_failed(quality_ws: Workspace) -> None:
    (quality_ws.root / "broken.xml").write_text("<nope")
    result = run_quality_gate(quality_ws, GATE_SPEC, junit_file="broken.xml")
    assert [c.name for c in result.failed] == ["tests_passed"]


def test_without_junit_the_test_report_decides(quality_ws: Workspace) -> None:
    run = quality_ws.root / ".spec/reports/test-suite-runner/run-1"
    (run / "junit.xml").unlink()
    (run / "summary.json").write_text('{"spec_id": "spec-q-001-gate", "passed": true}')
    result = run_quality_gate(quality_ws, GATE_SPEC)
    assert result.passed
    assert {c.name: c.reason for c in result.criteria}["tests_passed"] == (
        "tests passed (latest test-suite-runner report)"
    )


def test_the_sample_spec_fails_for_several_reasons(basic_ws: Workspace) -> None:
    result = run_quality_gate(basic_ws, BASIC_SPEC)
    assert [c.name for c in result.failed] == [
        "completion_rate", "verified_ratio", "invalid_evidence", "tests_passed", "coverage",
    ]  # fmt: skip
    assert _criteria(result)["invalid_evidence"] == (False, 2, 0)


def test_the_report_feeds_the_status(quality_ws: Workspace) -> None:
    result = run_quality_gate(quality_ws, GATE_SPEC)
    ref = write_quality_gate_report(quality_ws, GATE_SPEC, "g1", result)
    assert ref.rel_dir == ".spec/reports/quality-gate/g1"
    assert spec_status(quality_ws, GATE_SPEC).quality_gate_passed is True
    assert "| coverage | pass |" in (quality_ws.root / ref.markdown_rel).read_text()
    assert result.as_dict()["passed"] is True
