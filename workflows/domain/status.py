"""Where a spec stands: its files, its tasks' verification, tests, quality gate and docs.

`StatusCache` answers for many specs quickly. A spec's status depends only on the stamps
(mtime, size, inode) of its own files, of every file its hooks name, and on which reports
are the latest; when none of those changed since the last call the cached status is
returned without reading a single file. Keep one cache per workspace (the web app can hold
it for the life of the process); it is safe to share between threads.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from workflows.domain.layouts import discover_specs, find_spec
from workflows.domain.reports import (
    QUALITY_GATE_WORKFLOW,
    TEST_WORKFLOW,
    VERIFY_WORKFLOW,
    ReportEntry,
    ReportIndex,
    ReportRef,
)
from workflows.domain.tasks_parser import ParseIssue, TasksDocument, parse_tasks
from workflows.domain.verification import (
    FileCache,
    HookOutcome,
    ManualChecks,
    TaskStatus,
    VerificationReport,
    implicit_paths,
    verify_document,
)
from workflows.domain.workspace import (
    ScopeError,
    SpecIndex,
    SpecLocation,
    Stamp,
    UnknownSpec,
    Workspace,
    stamp_of,
)

# The files whose change makes a verify report stale, and that the status reports on.
STATE_FILES = ("spec.md", "plan.md", "tasks.md", "README.md")
LIVE_RUN_ID = "live"


class ImplementationStatus(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


@dataclass(frozen=True)
class SpecStatus:
    spec_id: str
    category: str | None
    path: str  # the spec folder, relative to the workspace
    has_spec: bool
    has_plan: bool
    has_tasks: bool
    docs_present: bool  # README.md in the spec folder
    tasks_total: int
    tasks_checked: int
    tasks_verified: int
    checked_not_verified: tuple[str, ...]
    verified_not_checked: tuple[str, ...]
    invalid_hooks: int
    tests_present: bool
    tests_passed: bool | None  # None: no test report yet
    quality_gate_passed: bool | None  # None: the gate never ran
    verified_since_last_change: bool
    last_verify_run: str | None
    warnings: tuple[str, ...] = ()
    format: str = "smartspec"  # the spec format it was read in (spec_formats.SpecFormat)
    tasks_without_hooks: int = 0  # tasks with status missing_evidence
    tasks_needs_manual: int = 0
    invalid_hook_tasks: tuple[str, ...] = ()  # ids of tasks with a malformed or escaping hook
    parse_issues: tuple[ParseIssue, ...] = ()  # what the tasks.md parser flagged

    @property
    def completion_rate(self) -> float:
        """Checked tasks over all tasks: what the team claims (0.0 without tasks)."""
        return self.tasks_checked / self.tasks_total if self.tasks_total else 0.0

    @property
    def verified_ratio(self) -> float:
        """Verified tasks over all tasks: what the evidence shows."""
        return self.tasks_verified / self.tasks_total if self.tasks_total else 0.0

    @property
    def has_drift(self) -> bool:
        return bool(self.checked_not_verified or self.verified_not_checked)

    @property
    def implementation_status(self) -> ImplementationStatus:
        """From verified tasks, since checkboxes are not evidence."""
        if self.tasks_verified == 0:
            return ImplementationStatus.NOT_STARTED
        if self.tasks_verified == self.tasks_total:
            return ImplementationStatus.COMPLETED
        return ImplementationStatus.IN_PROGRESS

    def as_dict(self) -> dict[str, object]:
        return {
            "spec_id": self.spec_id,
            "category": self.category,
            "path": self.path,
            "has_spec": self.has_spec,
            "has_plan": self.has_plan,
            "has_tasks": self.has_tasks,
            "docs_present": self.docs_present,
            "tasks": {
                "total": self.tasks_total,
                "checked": self.tasks_checked,
                "verified": self.tasks_verified,
            },
            "completion_rate": round(self.completion_rate, 4),
            "verified_ratio": round(self.verified_ratio, 4),
            "implementation_status": str(self.implementation_status),
            "drift": {
                "checked_not_verified": list(self.checked_not_verified),
                "verified_not_checked": list(self.verified_not_checked),
            },
            "invalid_hooks": self.invalid_hooks,
            "invalid_hook_tasks": list(self.invalid_hook_tasks),
            "tasks_without_hooks": self.tasks_without_hooks,
            "tasks_needs_manual": self.tasks_needs_manual,
            "tests_present": self.tests_present,
            "tests_passed": self.tests_passed,
            "quality_gate_passed": self.quality_gate_passed,
            "verified_since_last_change": self.verified_since_last_change,
            "last_verify_run": self.last_verify_run,
            "warnings": list(self.warnings),
            "format": self.format,
            "parse_issues": [
                {"line": i.line, "severity": i.severity, "message": i.message} for i in self.parse_issues
            ],
        }


@dataclass(frozen=True)
class SpecDetail:
    """A spec's status together with the live verification it was computed from."""

    status: SpecStatus
    verification: VerificationReport
    location: SpecLocation  # where it was read (its documents, its format)


@dataclass(frozen=True)
class _Snapshot:
    """Everything a spec's status depends on; equal snapshots give equal statuses."""

    location: SpecLocation
    stamps: tuple[Stamp | None, ...]  # of STATE_FILES, in order
    tests_dir: bool
    document: TasksDocument
    tasks_problem: str | None
    hooks: tuple[tuple[str, str | None, Stamp | None], ...]  # (path, resolved, stamp)
    reports: tuple[ReportRef | None, ...]

    def key(self) -> tuple[object, ...]:
        # The document is left out: it is a function of the tasks.md stamp.
        return (self.location, self.stamps, self.tests_dir, self.hooks, self.reports)


Parser = Callable[[Workspace, SpecLocation, Stamp | None], tuple[TasksDocument, str | None]]


def spec_detail(
    workspace: Workspace, spec: SpecLocation | str, *, manual: ManualChecks | None = None
) -> SpecDetail:
    """The status of one spec, computed from scratch (no cache); `manual`: the recorded
    manual checks of its tasks (task id -> ManualCheck)."""
    location = find_spec(workspace, spec) if isinstance(spec, str) else spec
    index = ReportIndex.load(workspace)
    snap = _snapshot(workspace, location, index, _parse)
    return _compute(workspace, snap, index, FileCache(workspace), manual)


def spec_status(
    workspace: Workspace, spec: SpecLocation | str, *, manual: ManualChecks | None = None
) -> SpecStatus:
    return spec_detail(workspace, spec, manual=manual).status


def progress_of(workspace: Workspace, location: SpecLocation, detail: SpecDetail) -> dict[str, object]:
    """What the autopilot compares turn to turn: the open (counted, unverified) tasks, those
    of them only a person can check, and a fingerprint of everything that matters — the
    status, each task's verification, and the contents of the spec's files and of every
    file its hooks name. Equal fingerprints mean a turn changed nothing."""
    report = detail.verification
    digest = hashlib.sha256()
    digest.update(json.dumps(detail.status.as_dict(), sort_keys=True, default=str).encode())
    digest.update(json.dumps(report.statuses(), sort_keys=True).encode())
    paths = [location.file(n) for n in STATE_FILES]
    paths += sorted({r.hook.path for t in report.tasks for r in t.hooks if r.hook.path})
    for rel in paths:
        try:
            read = workspace.read_text(rel)
            content = read.text if read.text is not None else f"<{read.message}>"
        except (ScopeError, OSError) as exc:
            content = f"<{exc}>"
        digest.update(f"\0{rel}\0{content}".encode())
    return {
        "open_tasks": [t.id for t in report.counted if not t.verified],
        "needs_manual": [t.id for t in report.counted if t.status is TaskStatus.NEEDS_MANUAL],
        "fingerprint": digest.hexdigest(),
    }


def _parse(
    workspace: Workspace, location: SpecLocation, stamp: Stamp | None
) -> tuple[TasksDocument, str | None]:
    if stamp is None:
        return TasksDocument(()), None
    rel = location.file("tasks.md")
    try:
        read = workspace.read_text(rel)
    except ScopeError as exc:
        return TasksDocument(()), f"{rel}: {exc.reason}"
    if read.text is None:
        return TasksDocument(()), read.message
    return parse_tasks(read.text, positional_ids=workspace.options.positional_ids), None


def _snapshot(workspace: Workspace, location: SpecLocation, index: ReportIndex, parse: Parser) -> _Snapshot:
    stamps = workspace.child_stamps(location.rel_dir, tuple(location.name_of(n) for n in STATE_FILES))
    document, problem = parse(workspace, location, stamps[2])
    return _Snapshot(
        location=location,
        stamps=stamps,
        tests_dir=workspace.is_dir(location.file("tests")),
        document=document,
        tasks_problem=problem,
        hooks=tuple(_hook_stamp(workspace, p) for p in _stamped_paths(workspace, location, document)),
        reports=index.key(location.spec_id),
    )


def _stamped_paths(workspace: Workspace, location: SpecLocation, document: TasksDocument) -> tuple[str, ...]:
    """The paths hooks name and, when implicit evidence applies, those the titles of tasks
    without hooks name (under each source root too): a file appearing there changes the key."""
    paths = document.hook_paths()
    options = workspace.options
    if not options.implicit_for(location.format):
        return paths
    return tuple(dict.fromkeys((*paths, *implicit_paths(document, options.source_roots))))


def _hook_stamp(workspace: Workspace, rel: str) -> tuple[str, str | None, Stamp | None]:
    # The resolved path is part of the key so that re-pointing a symlink counts as a change.
    try:
        path = workspace.resolve_text(rel)
    except ScopeError:
        return rel, None, None
    return rel, path, stamp_of(path)


def _compute(
    workspace: Workspace,
    snap: _Snapshot,
    index: ReportIndex,
    files: FileCache,
    manual: ManualChecks | None = None,
) -> SpecDetail:
    location = snap.location
    report = verify_document(
        workspace,
        snap.document,
        spec_id=location.spec_id,
        tasks_file=location.file("tasks.md"),
        run_id=LIVE_RUN_ID,
        files=files,
        spec_format=location.format,
        manual=manual,
    )
    verify = index.latest(VERIFY_WORKFLOW, location.spec_id)
    status = SpecStatus(
        spec_id=location.spec_id,
        category=location.category,
        path=location.rel_dir,
        has_spec=snap.stamps[0] is not None,
        has_plan=snap.stamps[1] is not None,
        has_tasks=snap.stamps[2] is not None,
        docs_present=snap.stamps[3] is not None,
        tasks_total=report.total,
        tasks_checked=report.checked,
        tasks_verified=report.verified,
        checked_not_verified=report.checked_not_verified,
        verified_not_checked=report.verified_not_checked,
        invalid_hooks=report.invalid_hooks,
        tests_present=snap.tests_dir or _test_hook_file_exists(snap, files),
        tests_passed=_passed(index.latest(TEST_WORKFLOW, location.spec_id)),
        quality_gate_passed=_passed(index.latest(QUALITY_GATE_WORKFLOW, location.spec_id)),
        verified_since_last_change=_fresh(verify, snap),
        last_verify_run=verify.ref.run_id if verify else None,
        warnings=tuple(w for w in (snap.tasks_problem, *report.warnings) if w),
        format=str(location.format),
        tasks_without_hooks=report.by_status()[TaskStatus.MISSING_EVIDENCE],
        tasks_needs_manual=report.by_status()[TaskStatus.NEEDS_MANUAL],
        invalid_hook_tasks=_invalid_hook_tasks(report),
        parse_issues=report.issues,
    )
    return SpecDetail(status, report, location)


def _invalid_hook_tasks(report: VerificationReport) -> tuple[str, ...]:
    bad = (HookOutcome.INVALID_EVIDENCE, HookOutcome.INVALID_SCOPE)
    return tuple(t.id for t in report.tasks if any(r.outcome in bad for r in t.hooks))


def _passed(entry: ReportEntry | None) -> bool | None:
    return entry.passed if entry else None


def _test_hook_file_exists(snap: _Snapshot, files: FileCache) -> bool:
    for task in snap.document.tasks:
        for hook in task.hooks:
            if hook.kind == "test" and hook.error is None and hook.path:
                try:
                    if os.path.exists(files.resolve(hook.path)):  # a file, or a folder of tests
                        return True
                except ScopeError:
                    continue
    return False


def _fresh(verify: ReportEntry | None, snap: _Snapshot) -> bool:
    """The latest verify report is at least as new as every spec file and hooked file.

    "At least as new": file systems stamp with coarse clocks, so a report written in the
    same tick as the last edit counts as fresh rather than as forever stale.
    """
    if verify is None:
        return False
    stamps = [s for s in snap.stamps if s] + [s for _, _, s in snap.hooks if s]
    newest = max((s.mtime_ns for s in stamps), default=0)
    return verify.ref.stamp.mtime_ns >= newest


# --- the cache -------------------------------------------------------------------------------


class StatusCache:
    """Statuses of a workspace's specs, recomputed only for specs whose inputs changed."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[tuple[object, ...], SpecDetail]] = {}
        self._documents: dict[str, tuple[Stamp, TasksDocument, str | None]] = {}  # by tasks.md
        self._report_memo: dict[tuple[str, str], ReportEntry] = {}

    def details(
        self, manual: Mapping[str, ManualChecks] | None = None, index: SpecIndex | None = None
    ) -> list[SpecDetail]:
        """Every spec in the workspace, sorted by spec id; `manual`: spec id -> its tasks'
        recorded manual checks; `index`: the specs found, when the caller already looked."""
        with self._lock:
            specs = (index or discover_specs(self.workspace)).specs
            reports = ReportIndex.load(self.workspace, self._report_memo)
            files = FileCache(self.workspace)
            checks = manual or {}
            found = [
                self._detail(location, reports, files, checks.get(location.spec_id)) for location in specs
            ]
            self._forget_except(specs)
            return found

    def all(self, manual: Mapping[str, ManualChecks] | None = None) -> list[SpecStatus]:
        return [d.status for d in self.details(manual)]

    def detail(self, spec_id: str, manual: ManualChecks | None = None) -> SpecDetail:
        """One spec; raises UnknownSpec when the workspace has no such spec."""
        with self._lock:
            location = discover_specs(self.workspace).get(spec_id)
            if location is None:
                raise UnknownSpec(spec_id)
            index = ReportIndex.load(self.workspace, self._report_memo)
            return self._detail(location, index, FileCache(self.workspace), manual)

    def status(self, spec_id: str, manual: ManualChecks | None = None) -> SpecStatus:
        return self.detail(spec_id, manual).status

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "entries": len(self._entries)}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._documents.clear()
            self._report_memo.clear()

    def _detail(
        self, location: SpecLocation, index: ReportIndex, files: FileCache, manual: ManualChecks | None
    ) -> SpecDetail:
        snap = _snapshot(self.workspace, location, index, self._parse)
        # A recorded (or withdrawn) manual check changes the status at once.
        key = (*snap.key(), tuple(sorted((manual or {}).items())))
        cached = self._entries.get(location.spec_id)
        if cached is not None and cached[0] == key:
            self.hits += 1
            return cached[1]
        self.misses += 1
        detail = _compute(self.workspace, snap, index, files, manual)
        self._entries[location.spec_id] = (key, detail)
        return detail

    def _parse(
        self, workspace: Workspace, location: SpecLocation, stamp: Stamp | None
    ) -> tuple[TasksDocument, str | None]:
        rel = location.file("tasks.md")
        cached = self._documents.get(rel)
        if stamp is not None and cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        document, problem = _parse(workspace, location, stamp)
        if stamp is not None:
            self._documents[rel] = (stamp, document, problem)
        return document, problem

    def _forget_except(self, specs: tuple[SpecLocation, ...]) -> None:
        """Drop entries of specs that were removed, so the cache never outgrows the workspace."""
        ids = {s.spec_id for s in specs}
        paths = {s.file("tasks.md") for s in specs}
        for spec_id in [k for k in self._entries if k not in ids]:
            del self._entries[spec_id]
        for rel in [k for k in self._documents if k not in paths]:
            del self._documents[rel]
