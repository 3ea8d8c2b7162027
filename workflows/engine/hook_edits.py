"""What an evidence-hook workflow (add_evidence_hooks, fix_evidence_hooks) may do to
tasks.md, checked after the agent ran.

The agent may add, change or remove `evidence:` lines and blank lines, nothing else: a
ticked checkbox or a reworded task is the team's claim, not the agent's to make. An edit
that touches anything else is undone (the agent's version is kept beside the prompt for a
person to read) and the step fails. An edit that changes nothing the routing reads fails
too, so the autopilot does not ask for the same hooks again and again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workflows.domain.layouts import discover_specs
from workflows.domain.tasks_parser import parse_tasks
from workflows.domain.verification import TaskStatus, VerificationReport, verify_spec
from workflows.domain.workspace import ScopeError, SpecLocation, Workspace

# Lines that hold or open evidence hooks, as the tasks parser reads them
# (workflows.domain.tasks_parser): `evidence:` with its label maybe bold, and a heading
# that opens a list of hooks. Bullets of such a list are found by parsing.
_EVIDENCE_RE = re.compile(r"(?<![^\W_])(?<!-)evidence(?:\*\*|__|\*|_)?:", re.IGNORECASE)
_LABEL_HEADING_RE = re.compile(r"^ {0,3}#{1,6}[ \t]+evidence(?: hooks)?[ \t#]*$", re.IGNORECASE)


class HookEditError(ValueError):
    pass


@dataclass(frozen=True)
class Before:
    """tasks.md and its verification before the agent ran."""

    location: SpecLocation
    tasks_rel: str
    text: str
    report: VerificationReport


def before_edit(workspace: Workspace, spec_id: str) -> Before:
    """HookEditError when the spec or its tasks.md cannot be read: there is nothing to hook."""
    location = discover_specs(workspace).get(spec_id)
    if location is None:
        raise HookEditError(f"no spec {spec_id!r} in the workspace")
    rel = location.file("tasks.md")
    try:
        read = workspace.read_text(rel)
    except ScopeError as exc:
        raise HookEditError(f"{rel}: {exc.reason}") from None
    if read.text is None:
        raise HookEditError(read.message)
    return Before(location, rel, read.text, verify_spec(workspace, location))


def edit_problem(before: str, after: str) -> str | None:
    """Why `after` is not `before` with only evidence lines changed, or None."""
    old, new = _other_lines(before), _other_lines(after)
    if old == new:
        return None
    for was, now in zip(old, new, strict=False):
        if was != now:
            return f"it changed {was.strip()!r} into {now.strip()!r}"
    if len(new) > len(old):
        return f"it added {new[len(old)].strip()!r}"
    return f"it removed {old[len(new)].strip()!r}"


def _other_lines(text: str) -> list[str]:
    """Every line but blank ones and those of evidence hooks; a task's own line always
    counts, even when a hook is written on it."""
    document = parse_tasks(text)
    tasks = {t.line for t in document.tasks}
    hooks = {h.line for t in document.tasks for h in t.hooks}
    return [
        line.rstrip()
        for number, line in enumerate(text.splitlines(), 1)
        if number in tasks or (line.strip() and number not in hooks and not _is_hook_line(line))
    ]


def _is_hook_line(line: str) -> bool:
    return bool(_EVIDENCE_RE.search(line) or _LABEL_HEADING_RE.match(line))


def check_edit(workspace: Workspace, workflow: str, before: Before, refused_rel: str) -> dict[str, int]:
    """What the edit achieved; HookEditError (after undoing it) when it broke the rules."""
    try:
        read = workspace.read_text(before.tasks_rel)
    except ScopeError as exc:
        raise HookEditError(f"{before.tasks_rel}: {exc.reason}") from None
    if read.text is None:
        workspace.write_text(before.tasks_rel, before.text)
        raise HookEditError(f"the agent removed {before.tasks_rel}; it was put back")
    problem = edit_problem(before.text, read.text)
    if problem:
        workspace.write_text(refused_rel, read.text)
        workspace.write_text(before.tasks_rel, before.text)
        raise HookEditError(
            f"the agent may only change evidence lines of {before.tasks_rel}, but {problem}; "
            f"its edit was undone and kept in {refused_rel}"
        )
    after = verify_spec(workspace, before.location)
    return _progress(workflow, before.report, after)


def _progress(workflow: str, before: VerificationReport, after: VerificationReport) -> dict[str, int]:
    if workflow == "add_evidence_hooks":
        was, now = _hookless(before), _hookless(after)
        if now >= was:
            raise HookEditError(f"the agent added no evidence hook ({now} tasks still have none)")
        return {
            "tasks_without_hooks_before": was,
            "tasks_without_hooks": now,
            "tasks_verified": after.verified,
        }
    was, now = before.invalid_hooks, after.invalid_hooks
    if now >= was:
        raise HookEditError(
            f"the agent fixed no evidence hook ({now} still malformed or outside the workspace)"
        )
    return {"invalid_hooks_before": was, "invalid_hooks": now, "tasks_verified": after.verified}


def _hookless(report: VerificationReport) -> int:
    # As the routing counts them (SpecStatus.tasks_without_hooks).
    return report.by_status()[TaskStatus.MISSING_EVIDENCE]
