"""Parse tasks.md: tasks, their phases and evidence hooks, with line numbers.

The parser never raises; problems come back as `issues`. Lines inside fenced code blocks
are ignored, so examples in prose never count.

Task lines
----------
A task is a bullet (`-`, `*` or `+`, at any indent) whose box is followed by a task id:

- `- [ ] <ID> <title>`; `[x]` or `[X]` is done;
- Kiro's markers: `- [-] …` is in progress (not done), and `- [ ]* …` is optional (listed
  with its result, but left out of the totals and of drift);
- SmartSpec's status items: `- ✅ **TSK-001**: title` (done) and `- ⬜ TSK-002 title` (open).
  Without a task id such a line is ordinary prose, and no warning.

The id is the item's first word, less `*`, `` ` `` and `_` markup and a trailing `:`, `.`
or `,`. It is either

- a word that starts with a letter, holds only letters, digits and `- _ . :`, and ends in
  a digit group: `T001`, `TSK-AUTH-001`, `PLAN-7`, `A-1`; or
- a dotted number as Kiro and OpenSpec write them: `1.`, `2.1`, `1.1.1`. The id drops the
  trailing dot, and its `parent` is the id less its last part (`2` for `2.1`; None for `1`).

spec-kit's markers right after the id come off the title: `[P]` (parallel), `[US1]` (the
user story) and `[P1]` (a priority). A phase heading's `(Priority: P1)` gives the tasks
under it that priority. Phases are headings that start with "Phase" (`## Phase 3: …`).

Parallel phases
---------------
Every task of a phase is parallel, as if marked `[P]`, when its heading ends with
`(parallel)` (`## Phase 2: Adapters (parallel)`) or when a line of the phase, on its own,
says `parallel: true` (also `yes`; the key may be bold, `**Parallel:** true`, or in an
HTML comment, `<!-- parallel: true -->`). Such a line outside a phase is a warning.

References are not tasks
------------------------
Requirements coverage, traceability and checklists use the same checkbox syntax. A
checkbox item is a reference, never a task, when

1. it sits under a reference heading: "Coverage", "Traceability" or "Checklist", alone or
   after one of a few qualifiers ("Requirements coverage", "Validation checklist",
   "Acceptance criteria coverage"), optionally followed by "matrix", "map", "summary",
   "table" or "report"; text after a colon, a dash or a "(" does not count. The section
   runs to the next heading of the same or a higher level, or to the next phase heading.
   "Test coverage" is not a reference heading: it usually holds tasks;
2. its first word is a requirement, success-criterion, checklist, acceptance or story
   reference: an uppercase `FR`, `NFR`, `SC`, `CHK`, `REQ`, `AC` or `US` followed by
   anything but a letter (`FR-018`, `SC-004`, `CHK001`, `US1`, `REQ-AUTH-2`); or
3. it has no task id and says what it covers ("covers", "covered by", "enforced by",
   "verified by", "tested by", "satisfied by", "implemented by", "validated by").

References give no warning of their own; one "info" issue counts them. Evidence lines
under a reference heading are ignored too. Any other checkbox item without a task id is a
warning, unless positional ids are on.

Positional ids
--------------
`parse_tasks(text, positional_ids=True)` gives each id-less checkbox item (not a
reference, not an emoji item) the id `P<phase>.<n>`: <phase> is the number in its phase
heading ("Phase 3: …" gives 3; a phase heading without a number counts by its position
among phase headings; 0 before the first phase) and <n> counts the id-less items of that
phase, from 1. Appending an item, or editing another phase, leaves every other id as it
was. When a real task in the same file already has that id, the item gets `-2` (then
`-3` …) appended, e.g. `P3.2-2`.

Evidence hooks
--------------
Every line under a task that contains `evidence:` (any case; the label may be bold:
`**Evidence:**`, `**Evidence**:`), up to the next task item, is one of its hooks: plain,
bulleted or in a table row. A label alone on its line (`**Evidence:**`, `- Evidence:`) or
a heading (`#### Evidence`) opens a list: each bullet after it (`- code: path=src/a.py`,
`- test path=tests/t.py`) is a hook of the current task, until a blank line after the
first bullet, a line that is not a bullet, a heading or the next task. Under a bulleted
label only the bullets indented deeper than the label belong to the list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from workflows.domain.evidence import Hook, parse_hook
from workflows.domain.markdown import FENCE_RE, next_fence

CHECKED_EMOJI = "\u2705"  # ✅
UNCHECKED_EMOJI = "\u2b1c"  # ⬜
_BULLETS = ("-", "*", "+")
_MARKUP = "*`_"

_TASK_RE = re.compile(
    r"^[ \t]*[-*+][ \t]+"
    r"(?:\[(?P<box>[ xX-])\](?P<optional>\*)?|(?P<emoji>[\u2705\u2b1c])\ufe0f?)"
    r"(?:[ \t]+(?P<rest>.*))?$"
)
_TASK_ID_RE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9_.:-]*[0-9]|[0-9]+(?:\.[0-9]+)*)$")
_REFERENCE_ID_RE = re.compile(r"^(?:FR|NFR|SC|CHK|REQ|AC|US)(?![A-Za-z])")
_COVERS_RE = re.compile(
    r"\b(?:covers|(?:covered|enforced|verified|tested|satisfied|implemented|validated)\s+by)\b",
    re.IGNORECASE,
)
_MARKER_RE = re.compile(r"^\[(?:(?P<parallel>[Pp])|(?P<story>US[0-9]+)|(?P<priority>[Pp][0-9]+))\][ \t]*")
_TITLE_SEPARATOR_RE = re.compile(r"^[:\u2013\u2014-](?:[ \t]+|$)")
_HEADING_RE = re.compile(r"^ {0,3}(?P<level>#{1,6})(?:[ \t]+(?P<text>.*?))?[ \t#]*$")
_PHASE_RE = re.compile(r"^ {0,3}#{1,6}[ \t]+(?P<title>[Pp]hase\b.*?)[ \t#]*$")
_PHASE_NUMBER_RE = re.compile(r"^[Pp]hase[ \t]*([0-9]+)")
_PARALLEL_HEADING_RE = re.compile(r"\(\s*parallel\s*\)$", re.IGNORECASE)
_PARALLEL_LINE_RE = re.compile(
    r"^(?:<!--[ \t]*)?(?:\*\*|__)?parallel(?:\*\*|__)?[ \t]*:[ \t]*(?:\*\*|__)?[ \t]*"
    r"(?P<value>true|yes|false|no)[ \t]*(?:\*\*|__)?[ \t]*(?:-->)?[ \t]*$",
    re.IGNORECASE,
)
_PRIORITY_RE = re.compile(r"(?:\bpriority\b[ \t]*:?|\()[ \t]*(P[0-9]+)\b", re.IGNORECASE)
_HEADING_CUT_RE = re.compile(r":|\(| [-\u2013\u2014] ")
_NOT_LETTERS_RE = re.compile(r"[^a-z]+")
_REFERENCE_HEADING_RE = re.compile(
    r"^(?:(?:functional |non functional )?requirements? |success criteria |acceptance criteria |"
    r"acceptance |user stor(?:y|ies) |stor(?:y|ies) |spec |specification |validation |review |"
    r"quality |release |task )?"
    r"(?:coverage|traceability|checklist)(?: (?:matrix|map|summary|table|report))?$"
)
_EVIDENCE_HEADINGS = frozenset({"evidence", "evidence hooks"})
_BOLD = r"(?:\*\*|__|\*|_)?"
_EVIDENCE_RE = re.compile(rf"(?<![^\W_])(?<!-)evidence{_BOLD}:{_BOLD}", re.IGNORECASE)
# What may stand before a label that opens a list, and after it.
_LABEL_PREFIX_RE = re.compile(rf"^[ \t]*(?:[-*+][ \t]+|#{{1,6}}[ \t]+)?{_BOLD}$")
_LABEL_REST_RE = re.compile(r"[ \t*_]*$")  # matched from the label's end
_LEADING_LABEL_RE = re.compile(rf"{_BOLD}evidence{_BOLD}:{_BOLD}", re.IGNORECASE)
_LABEL_RE = re.compile(
    rf"^[ \t]*(?:[-*+][ \t]+|#{{1,6}}[ \t]+)?{_BOLD}evidence{_BOLD}[ \t#]*$", re.IGNORECASE
)
# A file path a title names: in backticks, or a bare word with a "/" and an extension.
_CODE_SPAN_RE = re.compile(r"`([^`\s]+)`")
_BARE_PATH_RE = re.compile(r"(?<![\w/.:@`-])((?:[\w@+.-]+/)+[\w@+.-]*\.[A-Za-z][A-Za-z0-9]{0,9})(?![\w/])")
_PATH_TOKEN_RE = re.compile(r"^(?:[\w@+.-]+/)*[\w@+.-]*\.[A-Za-z][A-Za-z0-9]{0,9}$")


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    checked: bool
    line: int  # 1-based
    phase: str | None
    hooks: tuple[Hook, ...] = ()
    box_offset: int = 0  # index of the box character ("[ ]"'s middle, or the emoji) in its line
    parent: str | None = None  # "2" for a numeric id "2.1"
    optional: bool = False  # Kiro "- [ ]*": not counted in totals or drift
    in_progress: bool = False  # Kiro "- [-]"
    parallel: bool = False  # spec-kit "[P]", or every task of a parallel phase
    story: str | None = None  # spec-kit "[US1]"
    priority: str | None = None  # "P1": from a "[P1]" marker or the phase heading
    emoji: bool = False  # a ✅ / ⬜ item: sync swaps the emoji instead of an x

    @property
    def paths(self) -> tuple[str, ...]:
        """The file paths the title names (for implicit evidence); see `title_paths`."""
        return title_paths(self.title)


def box_text(task: Task, checked: bool) -> str:
    """The box character that says `checked` in the task's own style."""
    if task.emoji:
        return CHECKED_EMOJI if checked else UNCHECKED_EMOJI
    return "x" if checked else " "


@dataclass(frozen=True)
class ParseIssue:
    line: int
    severity: str  # "error", "warning" or "info"
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


def parse_tasks(text: str, *, positional_ids: bool = False) -> TasksDocument:
    return _Parser(positional_ids).run(text)


@lru_cache(maxsize=65536)
def title_paths(title: str) -> tuple[str, ...]:
    """The file paths a task title names, in order: a word in backticks that ends in an
    extension (`pyproject.toml`, `src/a.py`), or a bare word holding a "/" and ending in an
    extension (src/models/user.py). A leading "./" is dropped. URLs, absolute paths, globs
    and placeholders (`*`, `<name>`) never match; `..` does, and is refused when resolved."""
    if "/" not in title and "`" not in title:
        return ()
    found: list[tuple[int, str]] = []  # (where, path): listed in the order of the title
    for match in _CODE_SPAN_RE.finditer(title):
        word = match.group(1).rstrip(".,;:")
        if _PATH_TOKEN_RE.match(word) and "//" not in word:
            found.append((match.start(), word.removeprefix("./")))
    blanked = _CODE_SPAN_RE.sub(lambda m: " " * len(m.group()), title)
    found.extend((m.start(), m.group(1).removeprefix("./")) for m in _BARE_PATH_RE.finditer(blanked))
    return tuple(dict.fromkeys(path for _, path in sorted(found) if path))


def is_reference_heading(text: str) -> bool:
    """Whether a heading's text names a coverage, traceability or checklist section."""
    head = _HEADING_CUT_RE.split(text, maxsplit=1)[0]
    words = _NOT_LETTERS_RE.sub(" ", head.casefold()).split()
    return bool(words) and _REFERENCE_HEADING_RE.match(" ".join(words)) is not None


def _heading_words(text: str) -> str:
    return " ".join(_NOT_LETTERS_RE.sub(" ", text.casefold()).split())


class _Parser:
    def __init__(self, positional_ids: bool = False) -> None:
        self.positional_ids = positional_ids
        self.tasks: list[Task] = []
        self.hooks: list[Hook] = []
        self.current: dict[str, Any] | None = None  # the open task's fields, less its hooks
        self.phase: str | None = None
        self.phase_key = "0"
        self.priority: str | None = None
        self.phase_parallel = False  # the phase's heading ends "(parallel)" or it says "parallel: true"
        self.phase_first = 0  # index in self.tasks of the phase's first task
        self.phases: list[str] = []
        self.issues: list[ParseIssue] = []
        self.seen: dict[str, int] = {}
        self.reference: int | None = None  # the level of the reference heading we are under
        self.references: list[int] = []  # line numbers of reference items
        self.block: int | None = None  # an evidence list is open: its label's indent (-1: any)
        self.block_items = 0
        self.positional: dict[str, int] = {}  # phase key -> id-less items so far
        self.pending: list[int] = []  # indexes in self.tasks of positional ids

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
        self._settle_positional()
        if self.references:
            count, first = len(self.references), self.references[0]
            items = "item is a reference, not a task" if count == 1 else "items are references, not tasks"
            message = f"{count} coverage or checklist {items} (first on line {first})"
            self.issues.append(ParseIssue(first, "info", message))
        return TasksDocument(tuple(self.tasks), tuple(self.phases), tuple(self.issues))

    def _line(self, line: str, number: int, lead: int) -> None:
        # Cheap first-character checks: most lines are none of these, and regexes cost more.
        stripped = line.lstrip()
        first = stripped[:1]
        if first == "#":
            heading = _HEADING_RE.match(line)
            if heading and self._heading(line, heading):
                return
        if self.reference is not None:
            if first in _BULLETS and _TASK_RE.match(line):
                self.references.append(number)
            return
        if not first:
            if self.block is not None and self.block_items:
                self.block = None
            return
        if first in "pP*_<" and self._parallel_line(stripped, number):
            return
        if first in _BULLETS:
            task = _TASK_RE.match(line)
            if task:
                self._task(task, number, lead)
                return
            if self.block is not None and self._block_item(line, stripped, number):
                return
        self.block = None
        evidence = _EVIDENCE_RE.search(line) if ":" in line else None
        if evidence:
            if _LABEL_REST_RE.match(line, evidence.end()) and _LABEL_PREFIX_RE.match(
                line[: evidence.start()]
            ):
                self._open_block(line)
                return
            self._hook(line, evidence.end(), number)
        elif ("vidence" in line or "VIDENCE" in line) and _LABEL_RE.match(line):
            self._open_block(line)

    # --- headings and evidence lists -------------------------------------------------------

    def _heading(self, line: str, match: re.Match[str]) -> bool:
        """Handle a heading; True when nothing more is to be read from the line."""
        level = len(match.group("level"))
        text = match.group("text") or ""
        self.block = None
        if self.reference is not None and level <= self.reference:
            self.reference = None
        phase = _PHASE_RE.match(line)
        if phase:
            self.reference = None
            self.phase = phase.group("title").strip()
            self.phases.append(self.phase)
            number = _PHASE_NUMBER_RE.match(self.phase)
            self.phase_key = number.group(1) if number else str(len(self.phases))
            priority = _PRIORITY_RE.search(self.phase)
            self.priority = priority.group(1).upper() if priority else None
            self.phase_first = len(self.tasks) + (self.current is not None)  # after the open task
            self.phase_parallel = _PARALLEL_HEADING_RE.search(self.phase) is not None
            return True
        if self.reference is None and is_reference_heading(text):
            self._close()
            self.reference = level
            return True
        if self.reference is None and _heading_words(text) in _EVIDENCE_HEADINGS:
            self.block, self.block_items = -1, 0
            return True
        return self.reference is not None

    def _parallel_line(self, stripped: str, number: int) -> bool:
        """A `parallel: true` line makes every task of its phase parallel, those above it too."""
        match = _PARALLEL_LINE_RE.match(stripped)
        if match is None:
            return False
        if match.group("value").lower() not in ("true", "yes"):
            return True
        if self.phase is None:
            message = "'parallel: true' outside a phase is ignored: put it under a phase heading"
            self.issues.append(ParseIssue(number, "warning", message))
            return True
        self.phase_parallel = True
        for index in range(self.phase_first, len(self.tasks)):
            self.tasks[index] = replace(self.tasks[index], parallel=True)
        if self.current is not None and len(self.tasks) >= self.phase_first:
            self.current["parallel"] = True
        return True

    def _open_block(self, line: str) -> None:
        stripped = line.lstrip()
        bulleted = stripped[:1] in _BULLETS and stripped[1:2] in (" ", "\t")
        self.block = len(line) - len(stripped) if bulleted else -1
        self.block_items = 0

    def _block_item(self, line: str, stripped: str, number: int) -> bool:
        """A bullet in an open evidence list is a hook; False when it is not in the list."""
        if stripped[1:2] not in (" ", "\t"):
            return False
        indent = len(line) - len(stripped)
        if self.block is not None and self.block >= 0 and indent <= self.block:
            return False
        body = stripped[1:].lstrip()
        label = _LEADING_LABEL_RE.match(body)
        if label and _LABEL_REST_RE.match(body, label.end()):
            self._open_block(line)  # another label: a new list
            return True
        self.block_items += 1
        start = len(line) - len(body) + (label.end() if label else 0)
        self._hook(line, start, number)
        return True

    # --- tasks -----------------------------------------------------------------------------

    def _task(self, match: re.Match[str], number: int, lead: int) -> None:
        rest = (match.group("rest") or "").strip()
        token, _, title = rest.replace("\t", " ").partition(" ")
        task_id = token.lstrip(_MARKUP).rstrip(_MARKUP + ":.,")
        emoji = match.group("emoji")
        valid = bool(_TASK_ID_RE.match(task_id))
        if emoji and not valid:
            return  # a status bullet in prose, not a task; the current task goes on
        self._close()
        self.block = None
        if valid and _REFERENCE_ID_RE.match(task_id):
            self.references.append(number)
            return
        if not valid:
            if _COVERS_RE.search(rest):
                self.references.append(number)
                return
            if not self.positional_ids:
                message = f"checkbox item without a task id: {rest[:60]!r}"
                self.issues.append(ParseIssue(number, "warning", message))
                return
            count = self.positional.get(self.phase_key, 0) + 1
            self.positional[self.phase_key] = count
            task_id, title = f"P{self.phase_key}.{count}", rest
            self.pending.append(len(self.tasks))
        else:
            if task_id in self.seen:
                message = f"duplicate task id {task_id} (first on line {self.seen[task_id]})"
                self.issues.append(ParseIssue(number, "error", message))
            self.seen.setdefault(task_id, number)
        self.current = self._new_task(match, task_id, title, number, lead)

    def _new_task(
        self, match: re.Match[str], task_id: str, title: str, number: int, lead: int
    ) -> dict[str, Any]:
        emoji = match.group("emoji")
        box = emoji or match.group("box")
        title = title.strip()
        if title[:1] in (":", "-", "\u2013", "\u2014"):
            title = _TITLE_SEPARATOR_RE.sub("", title)
        parallel, story, priority = False, None, self.priority
        marker = _MARKER_RE.match(title) if title[:1] == "[" else None
        while marker:
            if marker.group("parallel"):
                parallel = True
            elif marker.group("story"):
                story = marker.group("story")
            else:
                priority = marker.group("priority").upper()
            title = title[marker.end() :]
            marker = _MARKER_RE.match(title) if title[:1] == "[" else None
        numeric = task_id[:1].isdigit()
        return dict(
            id=task_id,
            title=title.strip(),
            checked=box in ("x", "X", CHECKED_EMOJI),
            line=number,
            phase=self.phase,
            box_offset=lead + match.start("emoji" if emoji else "box"),
            parent=(task_id.rpartition(".")[0] or None) if numeric else None,
            optional=bool(match.group("optional")),
            in_progress=box == "-",
            parallel=parallel or self.phase_parallel,
            story=story,
            priority=priority,
            emoji=bool(emoji),
        )

    def _hook(self, line: str, start: int, number: int) -> None:
        table_row = line.lstrip().startswith("|")
        hook = parse_hook(line[start:], number, table_row=table_row)
        if self.current is None:
            message = f"evidence hook before any task is ignored: {hook.raw[:60]!r}"
            self.issues.append(ParseIssue(number, "warning", message))
            return
        if hook.error:
            self.issues.append(ParseIssue(number, "error", f"{self.current['id']}: {hook.error}"))
        self.hooks.append(hook)

    def _close(self) -> None:
        if self.current is not None:
            self.tasks.append(Task(**self.current, hooks=tuple(self.hooks)))
        self.current = None
        self.hooks = []

    def _settle_positional(self) -> None:
        """Positional ids never take a real task's id: a clash gets "-2", "-3" …"""
        if not self.pending:
            return
        taken = set(self.seen)
        for index in self.pending:
            task = self.tasks[index]
            task_id, suffix = task.id, 2
            while task_id in taken:
                task_id, suffix = f"{task.id}-{suffix}", suffix + 1
            taken.add(task_id)
            if task_id != task.id:
                self.tasks[index] = replace(task, id=task_id)
                self._rename_in_issues(task, task_id)

    def _rename_in_issues(self, task: Task, new: str) -> None:
        """Hook errors name their task: follow the positional task's new id."""
        lines, prefix = {h.line for h in task.hooks}, f"{task.id}: "
        self.issues = [
            replace(i, message=new + i.message[len(task.id) :])
            if i.line in lines and i.message.startswith(prefix)
            else i
            for i in self.issues
        ]
