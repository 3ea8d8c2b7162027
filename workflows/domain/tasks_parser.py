"""Parse tasks.md: tasks, their phases and evidence hooks, with line numbers.

A task item is `- [ ] <TASK-ID> <title>` (also `[x]`, `[X]`, and `*` or `+` bullets). Every
line under a task that contains `evidence:`, up to the next task item, is one of its hooks:
plain, bulleted or in a table row. Lines inside fenced code blocks are ignored, so examples
in prose never count. The parser never raises; problems come back as `issues`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from workflows.domain.evidence import Hook, parse_hook
from workflows.domain.markdown import FENCE_RE, next_fence

_TASK_RE = re.compile(r"^[ \t]*[-*+][ \t]+\[(?P<box>[ xX])\](?:[ \t]+(?P<rest>.*))?$")
_TASK_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]*$")
_PHASE_RE = re.compile(r"^ {0,3}#{1,6}[ \t]+(?P<title>[Pp]hase\b.*?)[ \t#]*$")
_EVIDENCE_RE = re.compile(r"(?<![\w-])evidence:", re.IGNORECASE)


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    checked: bool
    line: int  # 1-based
    phase: str | None
    hooks: tuple[Hook, ...] = ()
    box_offset: int = 0  # index of the character between [ and ] within its line


@dataclass(frozen=True)
class ParseIssue:
    line: int
    severity: str  # "error" or "warning"
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class TasksDocument:
    tasks: tuple[Task, ...]
    phases: tuple[str, ...] = ()
    issues: tuple[ParseIssue, ...] = ()

    def task(self, task_id: str) -> Task | None:
        return next((t for t in self.tasks if t.id == task_id), None)

    def hook_paths(self) -> tuple[str, ...]:
        """Every distinct path a well-formed hook names, in order of appearance."""
        paths = (h.path for t in self.tasks for h in t.hooks if h.error is None and h.path)
        return tuple(dict.fromkeys(paths))


def split_lines(text: str) -> list[str]:
    """Lines without their "\\n"; a "\\r" of CRLF stays on the line, so offsets are exact."""
    return text.split("\n")


def parse_tasks(text: str) -> TasksDocument:
    return _Parser().run(text)


class _Parser:
    def __init__(self) -> None:
        self.tasks: list[Task] = []
        self.hooks: list[Hook] = []
        self.current: Task | None = None
        self.phase: str | None = None
        self.phases: list[str] = []
        self.issues: list[ParseIssue] = []
        self.seen: dict[str, int] = {}

    def run(self, text: str) -> TasksDocument:
        fence: str | None = None
        for number, raw in enumerate(split_lines(text), start=1):
            lead = 1 if number == 1 and raw.startswith("\ufeff") else 0
            line = raw[lead:].removesuffix("\r")
            marker = FENCE_RE.match(line)
            if marker or fence:
                fence = next_fence(marker.group(1) if marker else None, fence)
            else:
                self._line(line, number, lead)
        self._close()
        return TasksDocument(tuple(self.tasks), tuple(self.phases), tuple(self.issues))

    def _line(self, line: str, number: int, lead: int) -> None:
        # Cheap first-character checks: most lines are none of these, and regexes cost more.
        first = line.lstrip()[:1]
        task = _TASK_RE.match(line) if first in ("-", "*", "+") else None
        if task:
            self._task(task, number, lead)
            return
        phase = _PHASE_RE.match(line) if first == "#" else None
        if phase:
            self.phase = phase.group("title").strip()
            self.phases.append(self.phase)
            return
        evidence = _EVIDENCE_RE.search(line) if ":" in line else None
        if evidence:
            self._hook(line, evidence.end(), number)

    def _task(self, match: re.Match[str], number: int, lead: int) -> None:
        self._close()
        rest = (match.group("rest") or "").strip()
        token, _, title = rest.replace("\t", " ").partition(" ")
        task_id = token.strip("*`").rstrip(":.,")
        if not _TASK_ID_RE.match(task_id) or not any(c.isdigit() for c in task_id):
            self.issues.append(
                ParseIssue(number, "warning", f"checkbox item without a task id: {rest[:60]!r}")
            )
            return
        if task_id in self.seen:
            message = f"duplicate task id {task_id} (first on line {self.seen[task_id]})"
            self.issues.append(ParseIssue(number, "error", message))
        self.seen.setdefault(task_id, number)
        checked = match.group("box") in "xX"
        offset = lead + match.start("box")
        self.current = Task(task_id, title.strip(), checked, number, self.phase, (), offset)

    def _hook(self, line: str, start: int, number: int) -> None:
        table_row = line.lstrip().startswith("|")
        hook = parse_hook(line[start:], number, table_row=table_row)
        if self.current is None:
            message = f"evidence hook before any task is ignored: {hook.raw[:60]!r}"
            self.issues.append(ParseIssue(number, "warning", message))
            return
        if hook.error:
            self.issues.append(ParseIssue(number, "error", f"{self.current.id}: {hook.error}"))
        self.hooks.append(hook)

    def _close(self) -> None:
        if self.current is not None:
            self.tasks.append(replace(self.current, hooks=tuple(self.hooks)))
        self.current = None
        self.hooks = []
