"""The prompt an AI coding agent receives for one SmartSpec workflow."""

from __future__ import annotations

import re

from workflows.domain.workspace import Workspace

SPEC_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MAX_FILE_CHARS = 20_000

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
        "are satisfied by the workspace files. Do not tick checkboxes; SmartSpec syncs them."
    ),
    "generate_tests": "Write tests for this spec in the spec folder's tests/ directory.",
    "docs_generator": "Write README.md for this spec: what it does, how to use it, its status.",
}


def spec_dir_for(workspace: Workspace, spec_id: str) -> str:
    """The spec's folder: where it is, or specs/<spec-id> for a spec not written yet."""
    found = workspace.discover_specs().get(spec_id)
    if found is not None:
        return found.rel_dir
    if not SPEC_ID_RE.match(spec_id or ""):
        raise ValueError(f"{spec_id!r} is not a spec id (lowercase letters, digits, '-', '_')")
    return f"specs/{spec_id}"


def build_prompt(workspace: Workspace, spec_dir: str, spec_id: str, workflow: str, extra: str) -> str:
    sections = [
        f"# SmartSpec workflow: {workflow}",
        f"Spec: {spec_id}\nSpec folder: {spec_dir}\nWorkspace: {workspace.root}",
        f"## What to do\n{INSTRUCTIONS[workflow]}",
    ]
    if extra:
        sections.append(f"## Notes from the team\n{extra}")
    for name in ("spec.md", "plan.md", "tasks.md"):
        read = workspace.read_text(f"{spec_dir}/{name}") if workspace.is_file(f"{spec_dir}/{name}") else None
        if read is not None and read.ok and read.text is not None:
            sections.append(f"## Current {name}\n\n{read.text[:MAX_FILE_CHARS]}")
    return "\n\n".join(sections) + "\n"
