"""Deterministic verification of tasks.md against the workspace files (no LLM).

Checkboxes are not evidence: a task is verified only when one of its hooks is satisfied.
When a task's hooks disagree, the first rule that applies decides (`decide_status`):

1. any hook satisfied             -> verified (one piece of evidence is enough; the
                                     other hooks' problems are still listed as reasons)
2. any hook with an invalid scope -> invalid_scope (a path that escapes is a security
                                     problem the author must see before anything else)
3. any malformed hook             -> invalid_evidence (a broken hook can never pass, so
                                     "not verified" would hide the real fix)
4. any checkable hook unsatisfied -> not_verified
5. only ui hooks                  -> needs_manual
6. no hooks                       -> missing_evidence
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

from workflows.domain.evidence import Hook, compile_regex
from workflows.domain.markdown import heading_texts, normalize_heading
from workflows.domain.reports import VERIFY_WORKFLOW, new_run_id
from workflows.domain.symbols import defined_names, has_symbol
from workflows.domain.tasks_parser import ParseIssue, Task, TasksDocument, parse_tasks
from workflows.domain.texts import Code, Text
from workflows.domain.workspace import (
    FileRead,
    ScopeError,
    SpecLocation,
    Workspace,
    read_confined,
)


class TaskStatus(StrEnum):
    VERIFIED = "verified"
    NOT_VERIFIED = "not_verified"
    MISSING_EVIDENCE = "missing_evidence"
    INVALID_EVIDENCE = "invalid_evidence"
    INVALID_SCOPE = "invalid_scope"
    NEEDS_MANUAL = "needs_manual"


class HookOutcome(StrEnum):
    SATISFIED = "satisfied"
    NOT_SATISFIED = "not_satisfied"
    INVALID_EVIDENCE = "invalid_evidence"
    INVALID_SCOPE = "invalid_scope"
    NEEDS_MANUAL = "needs_manual"


@dataclass(frozen=True)
class HookResult:
    hook: Hook
    outcome: HookOutcome
    reason: str
    warning: str | None = None  # set when a file was skipped (binary, oversized)

    def as_dict(self) -> dict[str, object]:
        return {**self.hook.as_dict(), "outcome": str(self.outcome), "reason": self.reason}


@dataclass(frozen=True)
class TaskResult:
    id: str
    title: str
    line: int
    phase: str | None
    checked: bool
    status: TaskStatus
    reasons: tuple[str, ...]
    hooks: tuple[HookResult, ...] = ()

    @property
    def verified(self) -> bool:
        return self.status is TaskStatus.VERIFIED

    @property
    def drift(self) -> bool:
        return self.checked != self.verified

    @property
    def matched_hooks(self) -> tuple[int, ...]:
        """Line numbers of the satisfied hooks."""
        return tuple(r.hook.line for r in self.hooks if r.outcome is HookOutcome.SATISFIED)

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "line": self.line,
            "phase": self.phase,
            "checked": self.checked,
            "status": str(self.status),
            "drift": self.drift,
            "reasons": list(self.reasons),
            "matched_hooks": list(self.matched_hooks),
            "hooks": [r.as_dict() for r in self.hooks],
        }


@dataclass(frozen=True)
class VerificationReport:
    spec_id: str
    run_id: str
    generated_at: str  # ISO 8601, UTC
    tasks_file: str
    tasks: tuple[TaskResult, ...]
    issues: tuple[ParseIssue, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return len(self.tasks)

    @property
    def checked(self) -> int:
        return sum(t.checked for t in self.tasks)

    @property
    def verified(self) -> int:
        return sum(t.verified for t in self.tasks)

    @property
    def checked_not_verified(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.tasks if t.checked and not t.verified)

    @property
    def verified_not_checked(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.tasks if t.verified and not t.checked)

    @property
    def invalid_hooks(self) -> int:
        """Malformed or out-of-scope hooks, even under tasks another hook verified."""
        bad = (HookOutcome.INVALID_EVIDENCE, HookOutcome.INVALID_SCOPE)
        return sum(r.outcome in bad for t in self.tasks for r in t.hooks)

    def by_status(self) -> dict[str, int]:
        counts = Counter(str(t.status) for t in self.tasks)
        return {str(s): counts.get(str(s), 0) for s in TaskStatus}

    def statuses(self) -> dict[str, str]:
        return {t.id: str(t.status) for t in self.tasks}

    def as_dict(self) -> dict[str, object]:
        return {
            "schema_version": 1,
            "workflow": VERIFY_WORKFLOW,
            "run_id": self.run_id,
            "spec_id": self.spec_id,
            "generated_at": self.generated_at,
            "tasks_file": self.tasks_file,
            "ok": not self.checked_not_verified,
            "totals": {
                "tasks": self.total,
                "checked": self.checked,
                "verified": self.verified,
                "invalid_hooks": self.invalid_hooks,
                "by_status": self.by_status(),
            },
            "drift": {
                "checked_not_verified": list(self.checked_not_verified),
                "verified_not_checked": list(self.verified_not_checked),
            },
            "tasks": [t.as_dict() for t in self.tasks],
            "issues": [{"line": i.line, "severity": i.severity, "message": i.message} for i in self.issues],
            "warnings": list(self.warnings),
        }


@dataclass
class FileCache:
    """Reads each file at most once per verification, and derives symbols/headings once."""

    workspace: Workspace
    disk_reads: int = 0
    _paths: dict[str, str | ScopeError] = field(default_factory=dict)
    _reads: dict[str, FileRead] = field(default_factory=dict)
    _names: dict[str, frozenset[str]] = field(default_factory=dict)
    _headings: dict[str, frozenset[str]] = field(default_factory=dict)

    def resolve(self, rel: str) -> str:
        """The resolved path as a string (ScopeError when refused), memoized per path."""
        found = self._paths.get(rel)
        if found is None:
            try:
                found = self.workspace.resolve_text(rel)
            except ScopeError as exc:
                found = exc
            self._paths[rel] = found
        if isinstance(found, ScopeError):
            raise found
        return found

    def read(self, rel: str) -> FileRead:
        path = self.resolve(rel)
        found = self._reads.get(path)
        if found is None:
            self.disk_reads += 1
            found = read_confined(path, rel, self.workspace.max_file_bytes)
            self._reads[path] = found
        return found

    def names(self, rel: str, text: str) -> frozenset[str]:
        path = self.resolve(rel)
        if path not in self._names:
            self._names[path] = defined_names(text, os.path.basename(path))
        return self._names[path]

    def headings(self, rel: str, text: str) -> frozenset[str]:
        path = self.resolve(rel)
        if path not in self._headings:
            self._headings[path] = heading_texts(text)
        return self._headings[path]


# --- one hook --------------------------------------------------------------------------------


def evaluate_hook(hook: Hook, files: FileCache) -> HookResult:
    if hook.error:
        return HookResult(hook, HookOutcome.INVALID_EVIDENCE, hook.error)
    if hook.kind == "ui":
        screen = hook.get("screen")
        manual = "ui hook (screen {screen}) cannot be checked statically; check it by hand"
        reason = Text(manual, screen=screen)
        return HookResult(hook, HookOutcome.NEEDS_MANUAL, reason)
    path = hook.path or ""
    try:
        files.resolve(path)
    except ScopeError as exc:
        return HookResult(hook, HookOutcome.INVALID_SCOPE, f"path {path}: {exc.reason}")
    read = files.read(path)
    if read.text is None:
        warning = read.message if read.skipped else None
        return HookResult(hook, HookOutcome.NOT_SATISFIED, read.message, warning)
    return _judge(hook, _conditions(hook, path, read.text, files))


def _judge(hook: Hook, checks: list[tuple[bool, str]]) -> HookResult:
    failed = [text for ok, text in checks if not ok]
    reason = Text.join("; ", failed or [text for _, text in checks])
    command = hook.get("command")
    if command:
        reason = Text("{reason} (command recorded, not run: {command})", reason=reason, command=command)
    outcome = HookOutcome.NOT_SATISFIED if failed else HookOutcome.SATISFIED
    return HookResult(hook, outcome, reason)


def _conditions(hook: Hook, path: str, text: str, files: FileCache) -> list[tuple[bool, Text]]:
    """Each condition the hook names, as (holds, why); all must hold."""
    checks: list[tuple[bool, Text]] = []
    symbol = hook.get("symbol")
    if symbol is not None:
        ok = has_symbol(files.names(path, text), symbol)
        found = "symbol {symbol} is defined in {path}" if ok else "symbol {symbol} is not defined in {path}"
        checks.append((ok, Text(found, symbol=symbol, path=path)))
    contains = hook.get("contains")
    if contains is not None:
        ok = contains in text
        found = '"{text}" is in {path}' if ok else '"{text}" is not in {path}'
        checks.append((ok, Text(found, text=contains, path=path)))
    regex = hook.get("regex")
    if regex is not None:
        pattern = compile_regex(regex)
        ok = not isinstance(pattern, str) and pattern.search(text) is not None
        found = 'regex "{regex}" matches {path}' if ok else 'regex "{regex}" does not match {path}'
        checks.append((ok, Text(found, regex=regex, path=path)))
    heading = hook.get("heading")
    if heading is not None:
        ok = normalize_heading(heading) in files.headings(path, text)
        found = '{path} has heading "{heading}"' if ok else '{path} has no heading "{heading}"'
        checks.append((ok, Text(found, path=path, heading=heading)))
    return checks or [(True, Text("{path} exists", path=path))]


# --- one task --------------------------------------------------------------------------------


def decide_status(results: tuple[HookResult, ...]) -> TaskStatus:
    """The task status from its hooks' outcomes; the module docstring gives the why."""
    outcomes = {r.outcome for r in results}
    if not results:
        return TaskStatus.MISSING_EVIDENCE
    if HookOutcome.SATISFIED in outcomes:
        return TaskStatus.VERIFIED
    if HookOutcome.INVALID_SCOPE in outcomes:
        return TaskStatus.INVALID_SCOPE
    if HookOutcome.INVALID_EVIDENCE in outcomes:
        return TaskStatus.INVALID_EVIDENCE
    if HookOutcome.NOT_SATISFIED in outcomes:
        return TaskStatus.NOT_VERIFIED
    return TaskStatus.NEEDS_MANUAL


_DECIDING_OUTCOME = {
    TaskStatus.VERIFIED: HookOutcome.SATISFIED,
    TaskStatus.NOT_VERIFIED: HookOutcome.NOT_SATISFIED,
    TaskStatus.INVALID_SCOPE: HookOutcome.INVALID_SCOPE,
    TaskStatus.INVALID_EVIDENCE: HookOutcome.INVALID_EVIDENCE,
    TaskStatus.NEEDS_MANUAL: HookOutcome.NEEDS_MANUAL,
}


def verify_task(task: Task, files: FileCache) -> TaskResult:
    results = tuple(evaluate_hook(h, files) for h in task.hooks)
    status = decide_status(results)
    return TaskResult(
        task.id,
        task.title,
        task.line,
        task.phase,
        task.checked,
        status,
        _reasons(task, status, results),
        results,
    )


def _reasons(task: Task, status: TaskStatus, results: tuple[HookResult, ...]) -> tuple[str, ...]:
    # The hooks that decided the status come first.
    deciding = _DECIDING_OUTCOME.get(status)
    ordered = sorted(results, key=lambda r: r.outcome is not deciding)
    reasons: list[str] = [
        Text("line {line}: {outcome}: {reason}", line=r.hook.line, outcome=Code(r.outcome), reason=r.reason)
        for r in ordered
    ]
    if not results:
        reasons.append(Text("no evidence hook under this task"))
    verified = status is TaskStatus.VERIFIED
    if task.checked and not verified:
        reasons.append(Text("drift: checked, but not verified"))
    elif verified and not task.checked:
        reasons.append(Text("drift: verified, but not checked"))
    return tuple(reasons)


# --- a whole spec ----------------------------------------------------------------------------


def verify_spec(
    workspace: Workspace,
    spec: SpecLocation | str,
    *,
    run_id: str | None = None,
    now: datetime | None = None,
    files: FileCache | None = None,
) -> VerificationReport:
    """Verify one spec's tasks.md; raises UnknownSpec for an id the workspace lacks."""
    location = workspace.spec(spec) if isinstance(spec, str) else spec
    tasks_file = location.file("tasks.md")
    text, problem = _read_tasks(workspace, tasks_file)
    document = parse_tasks(text) if text is not None else TasksDocument(())
    report = verify_document(
        workspace,
        document,
        spec_id=location.spec_id,
        tasks_file=tasks_file,
        run_id=run_id,
        now=now,
        files=files,
    )
    if problem:
        return _with_warning(report, problem)
    return report


def _read_tasks(workspace: Workspace, rel: str) -> tuple[str | None, str | None]:
    try:
        read = workspace.read_text(rel)
    except ScopeError as exc:
        return None, f"{rel}: {exc.reason}"
    return read.text, read.message or None


def _with_warning(report: VerificationReport, warning: str) -> VerificationReport:
    return replace(report, warnings=(warning, *report.warnings))


def verify_document(
    workspace: Workspace,
    document: TasksDocument,
    *,
    spec_id: str,
    tasks_file: str = "tasks.md",
    run_id: str | None = None,
    now: datetime | None = None,
    files: FileCache | None = None,
) -> VerificationReport:
    moment = now or datetime.now(UTC)
    cache = files or FileCache(workspace)
    results = tuple(verify_task(t, cache) for t in document.tasks)
    warnings = dict.fromkeys(r.warning for t in results for r in t.hooks if r.warning)
    return VerificationReport(
        spec_id=spec_id,
        run_id=run_id or new_run_id(moment),
        generated_at=moment.isoformat(timespec="seconds"),
        tasks_file=tasks_file,
        tasks=results,
        issues=document.issues,
        warnings=tuple(w for w in warnings if w),
    )
