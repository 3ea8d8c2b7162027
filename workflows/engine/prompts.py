"""The prompt an AI coding agent receives for one SmartSpec workflow."""

from __future__ import annotations

from collections.abc import Sequence

from workflows.domain.evidence import HOOK_KEYS
from workflows.domain.layouts import discover_specs
from workflows.domain.spec_formats import RENAMES, SpecFormat
from workflows.domain.verification import HookOutcome, TaskStatus, verify_spec
from workflows.domain.workspace import SPEC_FILES, SPEC_ID_RULE, SpecLocation, Workspace, is_spec_id

MAX_FILE_CHARS = 20_000
# The workflows that only edit the evidence lines of tasks.md (the agent executor checks it).
HOOK_WORKFLOWS = ("add_evidence_hooks", "fix_evidence_hooks")
MAX_LISTED = 200  # tasks or hooks listed in a prompt; tasks.md itself follows in full

INSTRUCTIONS = {
    "generate_spec": (
        "Write spec.md for this spec: a title line '# <spec-id>', a table of key facts "
        "(spec_id, category, priority, status), the goal, and acceptance criteria."
    ),
    "generate_plan": (
        "Write plan.md: a numbered implementation plan derived from spec.md, naming the files "
        "each step touches."
    ),
    "generate_tasks": (
        "Write tasks.md: '### Phase N: …' headings and task items '- [ ] <TASK-ID> <title>', each "
        "followed by at least one machine-checkable hook such as "
        "'evidence: code path=src/x.py symbol=name' or 'evidence: test path=… contains=\"…\"'."
    ),
    "implement_tasks": (
        "Implement the tasks of tasks.md that are not yet verified, so that their evidence hooks "
        "are satisfied by the workspace files. Under a task that has no hook yet, add an "
        "'evidence:' line pointing at what you wrote. Do not tick checkboxes; SmartSpec syncs them."
    ),
    "add_evidence_hooks": (
        "The tasks of tasks.md have no evidence hooks, so none of them can be verified. Read "
        "tasks.md and the code of the workspace, and under each task listed below add one or "
        "more 'evidence:' lines that point at the files, symbols, tests or docs that implement "
        "it, e.g. 'evidence: code path=src/x.py symbol=name' or "
        "'evidence: test path=tests/test_x.py contains=\"def test_name\"'. Paths are relative "
        "to the workspace root and must exist. Add a hook only for work that is really there: "
        "a task nothing implements yet keeps no hook. Only add 'evidence:' lines: never tick or "
        "untick a checkbox, never change, reorder or remove a task or any other line. If you "
        "cannot edit files, answer with the complete new tasks.md."
    ),
    "fix_evidence_hooks": (
        "Some evidence hooks of tasks.md are malformed or point outside the workspace, so they "
        "can never be verified; they are listed below with the reason of each. Fix each one so "
        "it follows the hook grammar below and names a path relative to the workspace root that "
        "points at the code, test or doc that implements its task; remove a hook only when "
        "nothing inside the workspace can be its evidence. Only change 'evidence:' lines: never "
        "tick or untick a checkbox, never change, reorder or remove a task or any other line. "
        "If you cannot edit files, answer with the complete new tasks.md."
    ),
    "generate_tests": "Write tests for this spec in the spec folder's tests/ directory.",
    "docs_generator": "Write README.md for this spec: what it does, how to use it, its status.",
}


def spec_dir_for(workspace: Workspace, spec_id: str) -> str:
    """The spec's folder: where it is, or a new folder where the workspace's format keeps
    specs (specs/<spec-id>, .kiro/specs/<spec-id>, openspec/changes/<spec-id>)."""
    index = discover_specs(workspace)
    found = index.get(spec_id)
    if found is not None:
        return found.rel_dir
    if not is_spec_id(spec_id or ""):
        raise ValueError(f"{spec_id!r} is not a spec id ({SPEC_ID_RULE})")
    root = f"{index.root}/changes" if index.format is SpecFormat.OPENSPEC else index.root
    return f"{root}/{spec_id}"


def build_prompt(
    workspace: Workspace,
    spec_dir: str,
    spec_id: str,
    workflow: str,
    extra: str,
    *,
    only_tasks: Sequence[str] = (),
) -> str:
    """The prompt; `only_tasks` narrows implement_tasks to a task group (a parallel branch)."""
    index = discover_specs(workspace)
    location = index.get(spec_id)
    sections = [
        f"# SmartSpec workflow: {workflow}",
        f"Spec: {spec_id}\nSpec folder: {spec_dir}\nWorkspace: {workspace.root}",
        f"## What to do\n{INSTRUCTIONS[workflow]}",
    ]
    if only_tasks and workflow == "implement_tasks":
        sections.append(only_tasks_section(only_tasks))
    if RENAMES.get(index.format):
        names = ", ".join(f"{ours} is {theirs}" for ours, theirs in RENAMES[index.format])
        sections.append(f"## This workspace's format\nIt is written as {index.format.label}: {names}.")
    if extra:
        sections.append(f"## Notes from the team\n{extra}")
    if workflow in HOOK_WORKFLOWS and location is not None:
        sections += hook_sections(workspace, location, workflow)
    for name in SPEC_FILES:
        rel = location.file(name) if location is not None else f"{spec_dir}/{name}"
        read = workspace.read_text(rel) if workspace.is_file(rel) else None
        if read is not None and read.ok and read.text is not None:
            sections.append(f"## Current {rel.rsplit('/', 1)[-1]}\n\n{read.text[:MAX_FILE_CHARS]}")
    return "\n\n".join(sections) + "\n"


def only_tasks_section(tasks: Sequence[str]) -> str:
    listed = ", ".join(tasks)
    order = " (in this order)" if len(tasks) > 1 else ""
    return (
        f"## Your tasks\nImplement only {listed}{order}. Other agents implement the other open "
        "tasks at the same time, each in its own copy of the workspace: do not work on them, "
        "and change only the files your tasks need."
    )


def hook_sections(workspace: Workspace, location: SpecLocation, workflow: str) -> list[str]:
    """What an evidence-hook workflow works on, from a fresh verification: the tasks without
    a hook, or the broken hooks with the reason of each; then the hook grammar."""
    report = verify_spec(workspace, location)
    tasks_file = location.file("tasks.md")
    if workflow == "add_evidence_hooks":
        heading = f"## Tasks without evidence hooks ({tasks_file})"
        lines = [
            f"- {t.id} (line {t.line}): {t.title}"
            for t in report.tasks
            if t.status is TaskStatus.MISSING_EVIDENCE
        ]
    else:
        heading = f"## Broken evidence hooks ({tasks_file})"
        bad = (HookOutcome.INVALID_EVIDENCE, HookOutcome.INVALID_SCOPE)
        lines = [
            f"- line {r.hook.line}, task {t.id}: `evidence: {r.hook.raw}` ({r.outcome}: {r.reason})"
            for t in report.tasks
            for r in t.hooks
            if r.outcome in bad
        ]
    if len(lines) > MAX_LISTED:
        lines = [*lines[:MAX_LISTED], f"- … and {len(lines) - MAX_LISTED} more"]
    return [f"{heading}\n" + ("\n".join(lines) or "(none)"), _grammar()]


def _grammar() -> str:
    kinds = [
        f"- `{kind}`: {', '.join(required)} (required); {', '.join(optional)}"
        for kind, (required, optional) in HOOK_KEYS.items()
    ]
    return (
        "## Evidence hook grammar\n"
        "One hook per line, anywhere under its task item and before the next task: "
        '`evidence: <type> key=value key="quoted value" …`. Paths are relative to the workspace '
        "root, without `..`. A hook is satisfied when its file exists and every condition it "
        "names holds; a `command` is recorded, never run; `ui` hooks are checked by hand.\n"
        + "\n".join(kinds)
    )
