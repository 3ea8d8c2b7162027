"""The quality gate: thresholds a spec must meet, each with its actual value and verdict.

Thresholds default to DEFAULT_THRESHOLDS and can be overridden by a dict; a `min_coverage`
of None, or `require_tests_passed` False, switches that criterion off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflows.domain.ci_results import parse_coverage, parse_junit
from workflows.domain.reports import (
    JUNIT_FILE,
    QUALITY_GATE_WORKFLOW,
    TEST_WORKFLOW,
    ReportIndex,
    ReportRef,
    write_report,
)
from workflows.domain.status import SpecStatus, spec_status
from workflows.domain.workspace import ScopeError, Workspace

DEFAULT_THRESHOLDS: dict[str, Any] = {
    "min_completion_rate": 1.0,
    "min_verified_ratio": 1.0,
    "require_tests_passed": True,
    "min_coverage": 80.0,
    "max_invalid_evidence": 0,
}
COVERAGE_FILES = ("coverage.json", "coverage.xml")


@dataclass(frozen=True)
class GateInputs:
    completion_rate: float
    verified_ratio: float
    tests_passed: bool | None
    coverage: float | None  # percent
    invalid_evidence: int
    tests_source: str = ""
    coverage_source: str = ""


@dataclass(frozen=True)
class Criterion:
    name: str
    passed: bool
    actual: float | int | bool | None
    threshold: float | int | bool
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "passed": self.passed,
            "actual": self.actual,
            "threshold": self.threshold,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class QualityGateResult:
    criteria: tuple[Criterion, ...]
    thresholds: Mapping[str, Any]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.criteria)

    @property
    def failed(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if not c.passed)

    def as_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "criteria": [c.as_dict() for c in self.criteria],
            "thresholds": dict(self.thresholds),
        }


def merge_thresholds(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults with `overrides` applied; unknown names and wrong types raise ValueError."""
    merged = dict(DEFAULT_THRESHOLDS)
    for name, value in (overrides or {}).items():
        if name not in DEFAULT_THRESHOLDS:
            raise ValueError(f"unknown quality gate threshold {name!r}")
        merged[name] = _checked(name, value)
    return merged


def _checked(name: str, value: Any) -> Any:
    if name == "require_tests_passed":
        if not isinstance(value, bool):
            raise ValueError("require_tests_passed must be true or false")
        return value
    if name == "min_coverage" and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    if name == "max_invalid_evidence" and (value < 0 or int(value) != value):
        raise ValueError("max_invalid_evidence must be a whole number >= 0")
    if name in ("min_completion_rate", "min_verified_ratio") and not 0 <= value <= 1:
        raise ValueError(f"{name} must be between 0 and 1")
    return value


def evaluate_quality_gate(
    inputs: GateInputs, thresholds: Mapping[str, Any] | None = None
) -> QualityGateResult:
    limits = merge_thresholds(thresholds)
    criteria = [
        _at_least("completion_rate", inputs.completion_rate, limits["min_completion_rate"]),
        _at_least("verified_ratio", inputs.verified_ratio, limits["min_verified_ratio"]),
        _invalid(inputs.invalid_evidence, limits["max_invalid_evidence"]),
    ]
    if limits["require_tests_passed"]:
        criteria.append(_tests(inputs))
    if limits["min_coverage"] is not None:
        criteria.append(_coverage(inputs, limits["min_coverage"]))
    return QualityGateResult(tuple(criteria), limits)


def _at_least(name: str, actual: float, minimum: float) -> Criterion:
    ok = actual >= minimum
    verdict = "meets" if ok else "is below"
    return Criterion(name, ok, round(actual, 4), minimum, f"{name} {actual:.0%} {verdict} {minimum:.0%}")


def _invalid(count: int, maximum: int) -> Criterion:
    ok = count <= maximum
    reason = f"{count} invalid evidence hook(s), at most {maximum} allowed"
    return Criterion("invalid_evidence", ok, count, maximum, reason)


def _tests(inputs: GateInputs) -> Criterion:
    where = f" ({inputs.tests_source})" if inputs.tests_source else ""
    if inputs.tests_passed is None:
        return Criterion("tests_passed", False, None, True, "no test results found")
    verdict = "passed" if inputs.tests_passed else "failed"
    return Criterion(
        "tests_passed", inputs.tests_passed, inputs.tests_passed, True, f"tests {verdict}{where}"
    )


def _coverage(inputs: GateInputs, minimum: float) -> Criterion:
    if inputs.coverage is None:
        return Criterion("coverage", False, None, minimum, "no coverage report found")
    ok = inputs.coverage >= minimum
    where = f" ({inputs.coverage_source})" if inputs.coverage_source else ""
    reason = f"coverage {inputs.coverage:.1f}% {'meets' if ok else 'is below'} {minimum:g}%{where}"
    return Criterion("coverage", ok, round(inputs.coverage, 2), minimum, reason)


# --- against a workspace ---------------------------------------------------------------------


def gather_inputs(
    workspace: Workspace,
    status: SpecStatus,
    *,
    coverage_file: str | None = None,
    junit_file: str | None = None,
) -> GateInputs:
    """Read the gate's inputs. Files default to the latest test-suite-runner report folder
    for the spec, then the workspace root."""
    folders = _result_folders(workspace, status.spec_id)
    tests_passed, tests_source = _tests_result(workspace, status, folders, junit_file)
    names = [coverage_file] if coverage_file else [f"{d}{n}" for d in folders for n in COVERAGE_FILES]
    coverage = _first_readable(workspace, names)
    return GateInputs(
        completion_rate=status.completion_rate,
        verified_ratio=status.verified_ratio,
        tests_passed=tests_passed,
        coverage=parse_coverage(coverage[1]) if coverage else None,
        invalid_evidence=status.invalid_hooks,
        tests_source=tests_source,
        coverage_source=coverage[0] if coverage else "",
    )


def _tests_result(
    workspace: Workspace, status: SpecStatus, folders: list[str], junit_file: str | None
) -> tuple[bool | None, str]:
    """A JUnit file first (an unparsable one counts as failed), else the test report."""
    names = [junit_file] if junit_file else [f"{d}{JUNIT_FILE}" for d in folders]
    found = _first_readable(workspace, names)
    if found is not None:
        parsed = parse_junit(found[1])
        return (parsed.passed if parsed else False), found[0]
    if status.tests_passed is not None:
        return status.tests_passed, "latest test-suite-runner report"
    return None, ""


def _result_folders(workspace: Workspace, spec_id: str) -> list[str]:
    """The latest test run that applies to this spec (as `dir/`), then the root (as "")."""
    latest = ReportIndex.load(workspace).latest(TEST_WORKFLOW, spec_id)
    return [f"{latest.ref.rel_dir}/", ""] if latest else [""]


def _first_readable(workspace: Workspace, names: list[str]) -> tuple[str, str] | None:
    for name in names:
        try:
            read = workspace.read_text(name)
        except ScopeError:
            continue
        if read.text is not None:
            return name, read.text
    return None


def run_quality_gate(
    workspace: Workspace,
    spec_id: str,
    *,
    thresholds: Mapping[str, Any] | None = None,
    coverage_file: str | None = None,
    junit_file: str | None = None,
    status: SpecStatus | None = None,
) -> QualityGateResult:
    current = status or spec_status(workspace, spec_id)
    inputs = gather_inputs(workspace, current, coverage_file=coverage_file, junit_file=junit_file)
    return evaluate_quality_gate(inputs, thresholds)


def write_quality_gate_report(
    workspace: Workspace, spec_id: str, run_id: str, result: QualityGateResult
) -> ReportRef:
    summary = {"spec_id": spec_id, "run_id": run_id, **result.as_dict()}
    rows = [f"| {c.name} | {'pass' if c.passed else 'FAIL'} | {c.reason} |" for c in result.criteria]
    markdown = "\n".join(
        [
            f"# Quality gate: {spec_id}",
            "",
            f"**{'Passed' if result.passed else 'Failed'}.**",
            "",
            "| Criterion | Verdict | Why |",
            "|---|---|---|",
            *rows,
        ]
    )
    return write_report(workspace, QUALITY_GATE_WORKFLOW, run_id, summary, markdown + "\n")
