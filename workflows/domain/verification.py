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

Implicit evidence: when the workspace's options turn it on for the spec's format
(`ReadOptions.implicit_for`: on by default for spec-kit, Kiro and OpenSpec, off for
SmartSpec), a task with no hook whose title names a file path (`src/a.py` in backticks, or
a bare word with a "/" and an extension) is verified when that file exists, inside the
workspace, as a non-empty regular file. The path is tried as written, then under each of
`ReadOptions.source_roots`, always through the workspace's confined resolution: `..`,
absolute paths and symlinks that leave the workspace are never evidence. The hook it makes
is a `code` hook marked `implicit`, and its reason starts with "implicit:". A named path that
is not found leaves the task missing_evidence, with the paths looked for in its reasons.

Optional tasks (Kiro's `- [ ]*`) are verified and listed, but left out of the totals
(`total`, `checked`, `verified`, `by_status`) and of drift.

Manual checks: a task whose hooks can only be checked by a person (needs_manual) counts as
verified when a check was recorded for it (`ManualCheck`, given as plain data: task id ->
check) and the check's fingerprint still matches the task's text and hooks
(`manual_fingerprint`). When the task or its hooks changed since, it is needs_manual again,
with a reason saying the check is out of date.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

from workflows.domain.evidence import CONTENT_KEYS, Hook, compile_regex
from workflows.domain.layouts import find_spec
from workflows.domain.markdown import heading_texts, normalize_heading
from workflows.domain.reports import VERIFY_WORKFLOW, new_run_id
from workflows.domain.spec_formats import SpecFormat
from workflows.domain.symbols import defined_names, has_symbol
from workflows.domain.tasks_parser import ParseIssue, Task, TasksDocument, parse_tasks
from workflows.domain.texts import Code, Text
from workflows.domain.workspace import (
    FileRead,
    ScopeError,
    SpecLocation,
    Workspace,
    path_problem,
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
        return {
            **self.hook.as_dict(),
            "implicit": self.hook.implicit,
            "outcome": str(self.outcome),
            "reason": self.reason,
        }


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
    parent: str | None = None
    optional: bool = False
    in_progress: bool = False
    parallel: bool = False
    story: str | None = None
    priority: str | None = None

    @property
    def verified(self) -> bool:
        return self.status is TaskStatus.VERIFIED

    @property
    def drift(self) -> bool:
        """Checkbox and evidence disagree; optional tasks never count as drift."""
        return not self.optional and self.checked != self.verified

    @property
    def implicit(self) -> bool:
        """Verified by a path its title names, not by a hook."""
        return any(r.hook.implicit for r in self.hooks)

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
            "parent": self.parent,
            "optional": self.optional,
            "in_progress": self.in_progress,
            "parallel": self.parallel,
            "story": self.story,
            "priority": self.priority,
            "implicit_evidence": self.implicit,
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
    def counted(self) -> tuple[TaskResult, ...]:
        """The tasks the totals and drift count: all but the optional ones."""
        return tuple(t for t in self.tasks if not t.optional)

    @property
    def optional_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.tasks if t.optional)

    @property
    def total(self) -> int:
        return len(self.counted)

    @property
    def checked(self) -> int:
        return sum(t.checked for t in self.counted)

    @property
    def verified(self) -> int:
        return sum(t.verified for t in self.counted)

    @property
    def checked_not_verified(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.counted if t.checked and not t.verified)

    @property
    def verified_not_checked(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.counted if t.verified and not t.checked)

    @property
    def invalid_hooks(self) -> int:
        """Malformed or out-of-scope hooks, even under tasks another hook verified."""
        bad = (HookOutcome.INVALID_EVIDENCE, HookOutcome.INVALID_SCOPE)
        return sum(r.outcome in bad for t in self.tasks for r in t.hooks)

    def by_status(self) -> dict[str, int]:
        counts = Counter(str(t.status) for t in self.counted)
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
            "optional_tasks": list(self.optional_ids),
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
    if hook.kind == "ui" and hook.path is None:
        screen = hook.get("screen")
        manual = "ui hook (screen {screen}) cannot be checked statically; check it by hand"
        reason = Text(manual, screen=screen)
        return HookResult(hook, HookOutcome.NEEDS_MANUAL, reason)
    path = hook.path or ""
    try:
        resolved = files.resolve(path)
    except ScopeError as exc:
        return HookResult(hook, HookOutcome.INVALID_SCOPE, f"path {path}: {exc.reason}")
    read = files.read(path)
    if read.text is None:
        if read.problem == "not_a_file" and os.path.isdir(resolved):
            return _directory(hook, path, resolved)
        warning = read.message if read.skipped else None
        return HookResult(hook, HookOutcome.NOT_SATISFIED, read.message, warning)
    return _judge(hook, _conditions(hook, path, read.text, files))


def _directory(hook: Hook, path: str, resolved: str) -> HookResult:
    """A hook on a folder holds when the folder holds anything but hidden files."""
    used = [f"{key}=" for key in CONTENT_KEYS if hook.get(key) is not None]
    if used:
        reason = Text("{path} is a directory: {keys} can only check a file", path=path, keys=", ".join(used))
        return HookResult(hook, HookOutcome.INVALID_EVIDENCE, reason)
    try:
        names = os.listdir(resolved)
    except OSError as exc:
        reason = Text("{path} cannot be read: {problem}", path=path, problem=exc.strerror or str(exc))
        return HookResult(hook, HookOutcome.NOT_SATISFIED, reason)
    if any(not name.startswith(".") for name in names):
        return _judge(hook, [(True, Text("{path} is a directory that is not empty", path=path))])
    return _judge(hook, [(False, Text("{path} is an empty directory", path=path))])


def _judge(hook: Hook, checks: Sequence[tuple[bool, str]]) -> HookResult:
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
    selector = hook.get("selector")
    if selector is not None:
        ok = selector in text
        found = 'selector "{selector}" is in {path}' if ok else 'selector "{selector}" is not in {path}'
        checks.append((ok, Text(found, selector=selector, path=path)))
    heading = hook.get("heading")
    if heading is not None:
        ok = normalize_heading(heading) in files.headings(path, text)
        found = '{path} has heading "{heading}"' if ok else '{path} has no heading "{heading}"'
        checks.append((ok, Text(found, path=path, heading=heading)))
    return checks or [(True, Text("{path} exists", path=path))]


# --- manual checks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ManualCheck:
    """A person checked a needs_manual task: the task's fingerprint then, and the words
    the verification shows ("checked by … on …: note")."""

    fingerprint: str
    reason: str


ManualChecks = Mapping[str, ManualCheck]  # task id -> its recorded check


def manual_fingerprint(task_id: str, title: str, hooks: Iterable[Hook]) -> str:
    """What a manual check vouches for: the task's id and text and its hooks' raw text."""
    text = "\n".join([task_id, title.strip(), *(h.raw.strip() for h in hooks if not h.implicit)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _apply_manual(
    task: Task, status: TaskStatus, reasons: tuple[str, ...], check: ManualCheck | None
) -> tuple[TaskStatus, tuple[str, ...]]:
    if check is None or status is not TaskStatus.NEEDS_MANUAL:
        return status, reasons
    if check.fingerprint == manual_fingerprint(task.id, task.title, task.hooks):
        reasons = tuple(r for r in reasons if r != Text("drift: verified, but not checked"))
        kept = (Text("manual check: {reason}", reason=check.reason), *reasons)
        if not task.checked and not task.optional:
            kept = (*kept, Text("drift: verified, but not checked"))
        return TaskStatus.VERIFIED, tuple(r for r in kept if r != Text("drift: checked, but not verified"))
    stale = Text(
        "the manual check is out of date: the task or its hooks changed since ({reason})",
        reason=check.reason,
    )
    return status, (stale, *reasons)


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


def verify_task(
    task: Task,
    files: FileCache,
    *,
    implicit_roots: tuple[str, ...] | None = None,
    manual: ManualCheck | None = None,
) -> TaskResult:
    """One task's result; `implicit_roots` (None: implicit evidence is off) are the source
    roots a path named in the title of a task without hooks is also tried under; `manual`,
    a person's recorded check of this task (it counts while the task is unchanged)."""
    results = tuple(evaluate_hook(h, files) for h in task.hooks)
    notes: list[str] = []
    if not results and implicit_roots is not None and task.paths:
        results, notes = _implicit(task, files, implicit_roots)
    status = decide_status(results)
    reasons = _reasons(task, status, results, notes)
    status, reasons = _apply_manual(task, status, reasons, manual)
    return TaskResult(
        task.id,
        task.title,
        task.line,
        task.phase,
        task.checked,
        status,
        reasons,
        results,
        parent=task.parent,
        optional=task.optional,
        in_progress=task.in_progress,
        parallel=task.parallel,
        story=task.story,
        priority=task.priority,
    )


def _reasons(
    task: Task, status: TaskStatus, results: tuple[HookResult, ...], notes: list[str] | None = None
) -> tuple[str, ...]:
    # The hooks that decided the status come first.
    deciding = _DECIDING_OUTCOME.get(status)
    ordered = sorted(results, key=lambda r: r.outcome is not deciding)
    reasons: list[str] = [
        Text("line {line}: {outcome}: {reason}", line=r.hook.line, outcome=Code(r.outcome), reason=r.reason)
        for r in ordered
    ]
    if not results:
        reasons.append(Text("no evidence hook under this task"))
    reasons.extend(notes or ())
    verified = status is TaskStatus.VERIFIED
    if task.optional:
        reasons.append(Text("optional task: not counted in the totals or drift"))
    elif task.checked and not verified:
        reasons.append(Text("drift: checked, but not verified"))
    elif verified and not task.checked:
        reasons.append(Text("drift: verified, but not checked"))
    return tuple(reasons)


# --- implicit evidence -----------------------------------------------------------------------


def implicit_candidates(path: str, source_roots: tuple[str, ...]) -> tuple[str, ...]:
    """Where a path named in a task title is looked for: as written, then under each root."""
    found = [path]
    for root in source_roots:
        base = root.strip().strip("/")
        if base and base != ".":
            found.append(f"{base}/{path}")
    return tuple(dict.fromkeys(found))


def implicit_paths(document: TasksDocument, source_roots: tuple[str, ...]) -> tuple[str, ...]:
    """Every path implicit evidence may look at in a document (the status cache stamps them)."""
    paths = (
        candidate
        for task in document.tasks
        if not task.hooks and task.paths
        for named in task.paths
        for candidate in implicit_candidates(named, source_roots)
    )
    return tuple(dict.fromkeys(paths))


def _implicit(
    task: Task, files: FileCache, roots: tuple[str, ...]
) -> tuple[tuple[HookResult, ...], list[str]]:
    """Satisfied implicit hooks for the paths the title names, and notes on those not found."""
    satisfied: list[HookResult] = []
    notes: list[str] = []
    for named in task.paths:
        problem = path_problem(named)
        if problem:
            notes.append(Text("implicit: {path} is not used: {reason}", path=named, reason=problem))
            continue
        found, looked = None, []
        for candidate in implicit_candidates(named, roots):
            try:
                resolved = files.resolve(candidate)
            except ScopeError as exc:
                notes.append(
                    Text("implicit: {path} is not used: {reason}", path=candidate, reason=exc.reason)
                )
                continue
            looked.append(candidate)
            if _non_empty_file(resolved):
                found = candidate
                break
        if found is None:
            if looked:
                notes.append(
                    Text(
                        "implicit: {path} not found (looked for {looked})",
                        path=named,
                        looked=", ".join(looked),
                    )
                )
            continue
        hook = Hook(task.line, f"code path={found}", "code", (("path", found),), implicit=True)
        if found == named:
            reason = Text("implicit: {path} exists (named in the task; no evidence hook)", path=found)
        else:
            template = "implicit: {path} exists (the task names {named}; no evidence hook)"
            reason = Text(template, path=found, named=named)
        satisfied.append(HookResult(hook, HookOutcome.SATISFIED, reason))
    return tuple(satisfied), notes


def _non_empty_file(resolved: str) -> bool:
    # lstat: the path is already resolved, so a symlink here was swapped in since; refuse it.
    try:
        st = os.lstat(resolved)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size > 0


# --- a whole spec ----------------------------------------------------------------------------


def verify_spec(
    workspace: Workspace,
    spec: SpecLocation | str,
    *,
    run_id: str | None = None,
    now: datetime | None = None,
    files: FileCache | None = None,
    manual: ManualChecks | None = None,
) -> VerificationReport:
    """Verify one spec's tasks.md; raises UnknownSpec for an id the workspace lacks."""
    location = find_spec(workspace, spec) if isinstance(spec, str) else spec
    tasks_file = location.file("tasks.md")
    text, problem = _read_tasks(workspace, tasks_file)
    positional = workspace.options.positional_ids
    document = parse_tasks(text, positional_ids=positional) if text is not None else TasksDocument(())
    report = verify_document(
        workspace,
        document,
        spec_id=location.spec_id,
        tasks_file=tasks_file,
        run_id=run_id,
        now=now,
        files=files,
        spec_format=location.format,
        manual=manual,
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
    spec_format: SpecFormat = SpecFormat.SMARTSPEC,
    manual: ManualChecks | None = None,
) -> VerificationReport:
    """Verify a parsed tasks.md; `spec_format` decides whether implicit evidence applies;
    `manual` holds the recorded manual checks of the spec's tasks (by task id)."""
    moment = now or datetime.now(UTC)
    cache = files or FileCache(workspace)
    options = workspace.options
    roots = options.source_roots if options.implicit_for(spec_format) else None
    checks = manual or {}
    results = tuple(
        verify_task(t, cache, implicit_roots=roots, manual=checks.get(t.id)) for t in document.tasks
    )
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
