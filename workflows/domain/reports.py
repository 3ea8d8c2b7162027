"""Workflow reports: `.spec/reports/<workflow>/<run-id>/summary.json` + `report.md`.

"Latest" means the newest summary.json by modification time (run id breaks ties), because
the status compares it with the modification times of the files it vouches for.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from workflows.domain.ci_results import parse_junit
from workflows.domain.workspace import REPORTS_DIR, ScopeError, Stamp, Workspace, stamp_of

if TYPE_CHECKING:
    from workflows.domain.verification import VerificationReport

VERIFY_WORKFLOW = "verify-tasks-progress"
TEST_WORKFLOW = "test-suite-runner"
QUALITY_GATE_WORKFLOW = "quality-gate"
SYNC_WORKFLOW = "sync-tasks-checkboxes"
SUMMARY_FILE = "summary.json"
MARKDOWN_FILE = "report.md"
JUNIT_FILE = "junit.xml"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def new_run_id(now: datetime | None = None) -> str:
    """Sortable and unique enough: UTC timestamp to the microsecond plus 6 random hex digits."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(3)}"


def check_name(value: str, what: str = "run id") -> str:
    """A run id or workflow name is one path segment; refuse anything else."""
    if not _NAME_RE.match(value) or value.strip(".") == "":
        raise ValueError(f"invalid {what} {value!r} (letters, digits, '.', '_', '-')")
    return value


@dataclass(frozen=True)
class ReportRef:
    workflow: str
    run_id: str
    stamp: Stamp  # of summary.json

    @property
    def rel_dir(self) -> str:
        return f"{REPORTS_DIR}/{self.workflow}/{self.run_id}"

    @property
    def summary_rel(self) -> str:
        return f"{self.rel_dir}/{SUMMARY_FILE}"

    @property
    def markdown_rel(self) -> str:
        return f"{self.rel_dir}/{MARKDOWN_FILE}"


@dataclass(frozen=True)
class ReportEntry:
    """A report as the status needs it: whose it is and whether it passed."""

    ref: ReportRef
    spec_id: str | None
    passed: bool | None


def write_report(
    workspace: Workspace,
    workflow: str,
    run_id: str,
    summary: Mapping[str, Any],
    markdown: str,
) -> ReportRef:
    """Write report.md, then summary.json (its presence marks the report complete)."""
    base = f"{REPORTS_DIR}/{check_name(workflow, 'workflow')}/{check_name(run_id)}"
    workspace.write_text(f"{base}/{MARKDOWN_FILE}", markdown)
    body = json.dumps(summary, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    path = workspace.write_text(f"{base}/{SUMMARY_FILE}", body)
    stamp = stamp_of(path)
    assert stamp is not None  # just written
    return ReportRef(workflow, run_id, stamp)


def write_verification_report(workspace: Workspace, report: VerificationReport) -> ReportRef:
    return write_report(
        workspace, VERIFY_WORKFLOW, report.run_id, report.as_dict(), render_verification(report)
    )


def list_reports(workspace: Workspace, workflow: str) -> list[ReportRef]:
    """Complete reports of one workflow, oldest first."""
    try:
        folder = workspace.resolve(f"{REPORTS_DIR}/{check_name(workflow, 'workflow')}")
        entries = list(os.scandir(folder))
    except (ScopeError, OSError):
        return []
    refs = []
    for entry in entries:
        if not _NAME_RE.match(entry.name) or not entry.is_dir():
            continue
        stamp = _summary_stamp(workspace, f"{REPORTS_DIR}/{workflow}/{entry.name}")
        if stamp is not None:
            refs.append(ReportRef(workflow, entry.name, stamp))
    return sorted(refs, key=lambda r: (r.stamp.mtime_ns, r.run_id))


def _summary_stamp(workspace: Workspace, rel_dir: str) -> Stamp | None:
    try:
        return stamp_of(workspace.resolve(f"{rel_dir}/{SUMMARY_FILE}"))
    except ScopeError:
        return None


def read_summary(workspace: Workspace, ref: ReportRef) -> dict[str, Any] | None:
    """The parsed summary.json, or None when it is unreadable or not a JSON object."""
    try:
        read = workspace.read_text(ref.summary_rel)
    except ScopeError:
        return None
    if read.text is None:
        return None
    try:
        data = json.loads(read.text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def latest_report(workspace: Workspace, workflow: str, *, spec_id: str | None = None) -> ReportEntry | None:
    return ReportIndex.load(workspace).latest(workflow, spec_id)


class ReportIndex:
    """The reports the status reads, loaded once per status pass.

    A verify report counts only for the spec it names. A test or quality-gate report counts
    for the spec it names, or for every spec when it names none (a workspace-wide run).
    """

    WORKFLOWS = (VERIFY_WORKFLOW, TEST_WORKFLOW, QUALITY_GATE_WORKFLOW)

    def __init__(self, entries: Mapping[str, list[ReportEntry]]) -> None:
        self._entries = entries

    @classmethod
    def load(
        cls,
        workspace: Workspace,
        memo: dict[tuple[str, str], ReportEntry] | None = None,
    ) -> ReportIndex:
        """Read every summary; `memo` (kept by the caller) skips unchanged ones."""
        memo = {} if memo is None else memo
        entries: dict[str, list[ReportEntry]] = {}
        for workflow in cls.WORKFLOWS:
            entries[workflow] = [_entry(workspace, ref, memo) for ref in list_reports(workspace, workflow)]
        return cls(entries)

    def latest(self, workflow: str, spec_id: str | None = None) -> ReportEntry | None:
        for entry in reversed(self._entries.get(workflow, [])):
            if entry.spec_id == spec_id or (workflow != VERIFY_WORKFLOW and entry.spec_id is None):
                return entry
        return None

    def key(self, spec_id: str) -> tuple[ReportRef | None, ...]:
        """What the status of one spec depends on, for cache keys."""
        found = (self.latest(w, spec_id) for w in self.WORKFLOWS)
        return tuple(e.ref if e else None for e in found)


def _entry(workspace: Workspace, ref: ReportRef, memo: dict[tuple[str, str], ReportEntry]) -> ReportEntry:
    cached = memo.get((ref.workflow, ref.run_id))
    if cached is not None and cached.ref.stamp == ref.stamp:
        return cached
    summary = read_summary(workspace, ref) or {}
    spec_id = summary.get("spec_id")
    entry = ReportEntry(ref, spec_id if isinstance(spec_id, str) else None, _passed(workspace, ref, summary))
    memo[(ref.workflow, ref.run_id)] = entry
    return entry


def _passed(workspace: Workspace, ref: ReportRef, summary: Mapping[str, Any]) -> bool | None:
    """`passed` from summary.json; a test run without it may carry a junit.xml instead."""
    passed = summary.get("passed")
    if isinstance(passed, bool):
        return passed
    if ref.workflow != TEST_WORKFLOW:
        return None
    try:
        read = workspace.read_text(f"{ref.rel_dir}/{JUNIT_FILE}")
    except ScopeError:
        return None
    result = parse_junit(read.text) if read.text is not None else None
    return result.passed if result else None


# --- report.md -------------------------------------------------------------------------------


def render_verification(report: VerificationReport) -> str:
    lines = [
        f"# Verification: {report.spec_id}",
        "",
        f"Run `{report.run_id}` at {report.generated_at}, from `{report.tasks_file}`.",
        "",
        f"**{report.total} tasks, {report.checked} checked, {report.verified} verified.**",
        "",
        *_drift_lines(report),
        "| Task | Checked | Status | Why |",
        "|---|---|---|---|",
    ]
    for task in report.tasks:
        why = "<br>".join(_cell(r) for r in task.reasons)
        box = "[x]" if task.checked else "[-]" if task.in_progress else "[ ]"
        status = f"{task.status} (implicit)" if task.verified and task.implicit else str(task.status)
        name = f"{task.id} (optional)" if task.optional else task.id
        lines.append(f"| {_cell(name)} | {box} | {status} | {why} |")
    lines += _bullets("Problems in tasks.md", [str(i) for i in report.issues])
    lines += _bullets("Warnings", list(report.warnings))
    return "\n".join(lines) + "\n"


def _drift_lines(report: VerificationReport) -> list[str]:
    lines = []
    if report.checked_not_verified:
        lines.append(f"Checked but not verified: {', '.join(report.checked_not_verified)}.")
    if report.verified_not_checked:
        lines.append(f"Verified but not checked: {', '.join(report.verified_not_checked)}.")
    return [*lines, ""] if lines else []


def _bullets(title: str, items: list[str]) -> list[str]:
    return ["", f"## {title}", "", *(f"- {item}" for item in items)] if items else []


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
