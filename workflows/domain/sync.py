"""Make tasks.md checkboxes match a verify report: verified -> [x], anything else -> [ ].

Only the single character between the brackets of a task line changes; every other byte
(line endings, unicode, spacing, tables, hooks) stays as it was. SmartSpec's status items
swap their emoji instead: ✅ for verified, ⬜ for anything else (one character each way).
A Kiro in-progress box (`[-]`) stays as it is until its task is verified. Tasks the report
does not mention are left alone rather than unchecked, so a stale report cannot erase new
work.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflows.domain.layouts import find_spec
from workflows.domain.reports import (
    SYNC_WORKFLOW,
    VERIFY_WORKFLOW,
    ReportRef,
    list_reports,
    read_summary,
    write_report,
)
from workflows.domain.tasks_parser import box_text, parse_tasks, split_lines
from workflows.domain.workspace import SpecLocation, Workspace

VERIFIED = "verified"


@dataclass(frozen=True)
class SyncResult:
    text: str
    diff: str  # unified diff, empty when nothing changed
    flipped: tuple[str, ...]  # task ids whose checkbox changed
    untouched: tuple[str, ...] = ()  # task ids the report does not mention

    @property
    def changed(self) -> bool:
        return bool(self.flipped)

    def as_dict(self) -> dict[str, object]:
        return {"flipped": list(self.flipped), "untouched": list(self.untouched), "diff": self.diff}


def sync_checkboxes(
    text: str,
    statuses: Mapping[str, str | bool],
    *,
    filename: str = "tasks.md",
    positional_ids: bool = False,
) -> SyncResult:
    """`statuses` maps task id to its verify status ("verified", …) or to a bool;
    `positional_ids` must be what the report was parsed with, so the ids match."""
    lines = split_lines(text)
    flipped: list[str] = []
    untouched: list[str] = []
    for task in parse_tasks(text, positional_ids=positional_ids).tasks:
        if task.id not in statuses:
            untouched.append(task.id)
            continue
        wanted = _is_verified(statuses[task.id])
        if wanted == task.checked:
            continue
        line, at = lines[task.line - 1], task.box_offset
        lines[task.line - 1] = line[:at] + box_text(task, wanted) + line[at + 1 :]
        flipped.append(task.id)
    new_text = "\n".join(lines)
    return SyncResult(new_text, unified_diff(text, new_text, filename), tuple(flipped), tuple(untouched))


def _is_verified(value: str | bool) -> bool:
    return value is True or value == VERIFIED


def unified_diff(before: str, after: str, filename: str = "tasks.md") -> str:
    if before == after:
        return ""
    diff = difflib.unified_diff(
        split_lines(before), split_lines(after), f"a/{filename}", f"b/{filename}", lineterm=""
    )
    return "\n".join(diff) + "\n"


def statuses_from_summary(summary: Mapping[str, Any]) -> dict[str, str]:
    """Task id -> status from a verify report's summary.json."""
    tasks = summary.get("tasks")
    if not isinstance(tasks, list):
        return {}
    found: dict[str, str] = {}
    for task in tasks:
        if isinstance(task, dict) and isinstance(task.get("id"), str):
            found[task["id"]] = str(task.get("status", ""))
    return found


def latest_verify_summary(workspace: Workspace, spec_id: str) -> tuple[ReportRef, dict[str, Any]] | None:
    for ref in reversed(list_reports(workspace, VERIFY_WORKFLOW)):
        summary = read_summary(workspace, ref)
        if summary is not None and summary.get("spec_id") == spec_id:
            return ref, summary
    return None


def sync_spec_tasks(
    workspace: Workspace,
    spec: SpecLocation | str,
    statuses: Mapping[str, str | bool],
    *,
    write: bool = True,
) -> SyncResult:
    """Sync one spec's tasks.md; raises ValueError when it is not UTF-8 text."""
    location = find_spec(workspace, spec) if isinstance(spec, str) else spec
    rel = location.file("tasks.md")
    path = workspace.resolve(rel)
    data = path.read_bytes()
    if len(data) > workspace.max_file_bytes:
        raise ValueError(f"{rel} is over the {workspace.max_file_bytes}-byte limit")
    # Strict decoding: rewriting a file decoded with replacement characters would lose bytes.
    text = data.decode("utf-8")
    result = sync_checkboxes(text, statuses, filename=rel, positional_ids=workspace.options.positional_ids)
    if write and result.changed:
        workspace.write_text(rel, result.text)
    return result


def write_sync_report(
    workspace: Workspace, spec_id: str, run_id: str, result: SyncResult, source_run: str | None
) -> ReportRef:
    summary = {"spec_id": spec_id, "run_id": run_id, "source_run": source_run, **result.as_dict()}
    flipped = ", ".join(result.flipped) or "nothing"
    markdown = f"# Checkbox sync: {spec_id}\n\nFlipped: {flipped}.\n"
    if result.diff:
        markdown += f"\n```diff\n{result.diff}```\n"
    return write_report(workspace, SYNC_WORKFLOW, run_id, summary, markdown)
