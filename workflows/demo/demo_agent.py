#!/usr/bin/env python3
"""The DEMO agent: a stand-in for an AI coding CLI, shipped so a new user can watch the
autopilot go round the whole SmartSpec loop without any AI service.

It is deliberately simple and deterministic: it writes plausible spec.md, plan.md and
tasks.md files, "implements" tasks by writing exactly what their evidence hooks ask for,
and adds (or repairs) evidence hooks by matching each task's title against the names
defined in the workspace's code, tests and docs. Configure a real agent instead (README,
"AI agents").

Usage: demo_agent.py --workflow WORKFLOW --spec-dir DIR --workspace DIR [--pause SECONDS]
(prompt on stdin)
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import time
from pathlib import Path

TASK_RE = re.compile(r"^(\s*)[-*]\s+\[( |x|X)\]\s+(\S+)\s+(.*)$")
EVIDENCE_RE = re.compile(r"(?<![\w-])evidence:", re.I)
DEF_RE = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)", re.M)
HEADING_RE = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
BROKEN_RE = re.compile(r"^- line (\d+), task (\S+):", re.M)
SKIP_DIRS = {".git", ".spec", "specs", "node_modules", "__pycache__", ".venv", "venv"}
STOP_WORDS = {"the", "and", "for", "with", "from", "into", "that", "this", "when", "each", "its"}
PAUSE = 0.4  # seconds between lines, so people can watch the output stream


def say(line: str) -> None:
    print(line, flush=True)
    time.sleep(PAUSE)


def words(spec_id: str) -> list[str]:
    parts = [p for p in re.split(r"[-_]", spec_id) if p and not p.isdigit()]
    return [p for p in parts if p != "spec"] or ["feature"]


def module_name(spec_id: str) -> str:
    return "_".join(words(spec_id)[-2:])


def generate_spec(spec_dir: Path, spec_id: str) -> None:
    title = " ".join(words(spec_id)).capitalize()
    say(f"Drafting spec.md for {spec_id}")
    (spec_dir / "spec.md").write_text(
        f"# {spec_id}\n\n| Key | Value |\n|---|---|\n| spec_id | {spec_id} |\n"
        f"| status | draft |\n\n## Goal\n{title}: the behaviour the team asked for.\n\n"
        "## Acceptance\n- The main flow works end to end.\n- Errors are reported clearly.\n"
    )


def generate_plan(spec_dir: Path, spec_id: str) -> None:
    module = module_name(spec_id)
    say("Reading spec.md and planning the work")
    (spec_dir / "plan.md").write_text(
        f"# Plan: {spec_id}\n\n1. Core logic in `src/{module}/core.py`.\n"
        f"2. Input validation in `src/{module}/validation.py`.\n3. Documentation in `docs/{module}.md`.\n"
    )


def generate_tasks(spec_dir: Path, spec_id: str) -> None:
    module = module_name(spec_id)
    prefix = "".join(w[0] for w in words(spec_id)).upper()[:4] or "TSK"
    say("Breaking the plan into tasks with evidence hooks")
    (spec_dir / "tasks.md").write_text(
        f"# Tasks: {spec_id}\n\n### Phase 1: Core\n\n"
        f"- [ ] TSK-{prefix}-001 Core logic\n  evidence: code path=src/{module}/core.py symbol=run\n\n"
        f"- [ ] TSK-{prefix}-002 Input validation\n"
        f"  evidence: code path=src/{module}/validation.py symbol=validate\n\n"
        f"### Phase 2: Docs\n\n- [ ] TSK-{prefix}-003 Document the feature\n"
        f'  evidence: docs path=docs/{module}.md heading="Usage"\n'
    )


def parse_hook(line: str) -> dict[str, str]:
    body = line.split("evidence:", 1)[1].strip().strip("|").strip()
    tokens = shlex.split(body)
    fields = {"type": tokens[0]} if tokens else {}
    for token in tokens[1:]:
        if "=" in token:
            key, value = token.split("=", 1)
            fields[key] = value
    return fields


def implement_tasks(workspace: Path, spec_dir: Path) -> None:
    tasks = (spec_dir / "tasks.md").read_text().splitlines()
    current = None
    for line in tasks:
        match = TASK_RE.match(line)
        if match:
            current = match.group(3)
            continue
        if current and "evidence:" in line:
            implement_hook(workspace, current, parse_hook(line))


def implement_hook(workspace: Path, task: str, hook: dict[str, str]) -> None:
    path = hook.get("path", "")
    if not path or path.startswith("/") or ".." in Path(path).parts:
        say(f"{task}: skipping a hook without a usable path")
        return
    target = workspace / path
    text = target.read_text() if target.exists() else ""
    addition = ""
    if hook.get("symbol") and not re.search(
        rf"\b(def|class)\s+{re.escape(hook['symbol'])}\b|^{re.escape(hook['symbol'])}\s*=", text, re.M
    ):
        addition += f'\n\ndef {hook["symbol"]}(*args, **kwargs):\n    """{task}."""\n    return None\n'
    if hook.get("contains") and hook["contains"] not in text:
        addition += (
            f"\n# {task}: {hook['contains']}\n" if hook["type"] != "docs" else f"\n{hook['contains']}\n"
        )
    if hook.get("heading") and hook["heading"].lower() not in text.lower():
        addition += f"\n## {hook['heading']}\n\nHow to use it.\n"
    if not addition:
        say(f"{task}: {path} already satisfies its hook")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text + addition)
    say(f"{task}: wrote {path}")


# --- evidence hooks ----------------------------------------------------------------------------


def split_words(text: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    found = [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced)]
    return [w for w in found if len(w) >= 3 and w not in STOP_WORDS]


def same_word(a: str, b: str) -> bool:
    # "book" and "books", "total" and "totals"; short words must match exactly.
    return a == b or (min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)))


def workspace_files(workspace: Path, suffix: str) -> list[Path]:
    found = []
    for path in sorted(workspace.rglob(f"*{suffix}")):
        parts = path.relative_to(workspace).parts
        if path.is_file() and not path.is_symlink() and not SKIP_DIRS.intersection(parts):
            found.append(path)
    return found


def candidates(workspace: Path) -> list[tuple[str, str, str]]:
    """(kind, path, name): functions and classes of the code and tests, headings of docs."""
    found = []
    for path in workspace_files(workspace, ".py"):
        rel = path.relative_to(workspace).as_posix()
        is_test = "tests" in path.parts or path.name.startswith("test_")
        for name in DEF_RE.findall(path.read_text(errors="replace")):
            if is_test and name.startswith("test"):
                found.append(("test", rel, name))
            elif not is_test and not name.startswith("_"):
                found.append(("code", rel, name))
    for path in workspace_files(workspace, ".md"):
        rel = path.relative_to(workspace).as_posix()
        if rel.startswith("docs/"):
            found += [("docs", rel, h) for h in HEADING_RE.findall(path.read_text(errors="replace"))]
    return found


def score(title: str, name: str, path: str) -> tuple[int, float, int] | None:
    """How well a name fits a task title, or None when it does not convince: every word of
    the name is in the title, or at least two are. Ties go to the name whose file's name
    matches the title too."""
    wanted = split_words(title)
    own = [w for w in split_words(name) if w != "test"]
    where = split_words(Path(path).with_suffix("").as_posix())
    named = sum(any(same_word(w, o) for w in wanted) for o in own)
    placed = sum(any(same_word(w, o) for o in where) for w in wanted)
    if not own or named == 0 or (named < len(own) and named < 2):
        return None
    return named, named / len(own), placed


def hooks_for(title: str, found: list[tuple[str, str, str]]) -> list[str]:
    """The best code (or docs) hook and the best test hook for a task, if any convinces."""
    best: dict[str, tuple[tuple[int, float, int], str, str]] = {}
    for kind, path, name in found:
        fit = score(title, name, path)
        if fit is not None and (kind not in best or fit > best[kind][0]):
            best[kind] = (fit, path, name)
    hooks = []
    if "code" in best:
        _, path, name = best["code"]
        hooks.append(f"code path={path} symbol={name}")
    elif "docs" in best:
        _, path, name = best["docs"]
        hooks.append(f'docs path={path} heading="{name}"')
    if "test" in best:
        _, path, name = best["test"]
        hooks.append(f'test path={path} contains="def {name}"')
    return hooks


def add_evidence_hooks(workspace: Path, spec_dir: Path) -> None:
    """Under each task without a hook, hooks to what implements it; nothing else changes."""
    tasks_md = spec_dir / "tasks.md"
    lines = tasks_md.read_text().splitlines(keepends=True)
    found = candidates(workspace)
    say(f"Read tasks.md and {len(found)} names defined in the code, tests and docs")
    starts = [i for i, line in enumerate(lines) if TASK_RE.match(line)] + [len(lines)]
    out = lines[: starts[0]]
    added = 0
    for start, end in zip(starts, starts[1:], strict=False):
        block = lines[start:end]
        match = TASK_RE.match(block[0])
        assert match is not None
        indent, task, title = match.group(1), match.group(3), match.group(4).strip()
        out.append(block[0])
        if not any(EVIDENCE_RE.search(line) for line in block):
            hooks = hooks_for(title, found)
            if hooks and not block[0].endswith("\n"):  # the last line of the file
                out[-1] = block[0] + "\n"
            for hook in hooks:
                out.append(f"{indent}  evidence: {hook}\n")
                say(f"{task}: evidence: {hook}")
            added += len(hooks)
            if not hooks:
                say(f"{task}: nothing in the workspace implements it yet; no hook")
        out.extend(block[1:])
    tasks_md.write_text("".join(out))
    say(f"Added {added} evidence hooks to tasks.md")


def fix_evidence_hooks(workspace: Path, spec_dir: Path, prompt: str) -> None:
    """Replace each broken hook the prompt lists with one found for its task's title."""
    tasks_md = spec_dir / "tasks.md"
    lines = tasks_md.read_text().splitlines(keepends=True)
    titles = {}
    for line in lines:
        match = TASK_RE.match(line)
        if match:
            titles[match.group(3)] = match.group(4).strip()
    found = candidates(workspace)
    for number, task in BROKEN_RE.findall(prompt):
        index = int(number) - 1
        line = lines[index] if 0 <= index < len(lines) else ""
        where = EVIDENCE_RE.search(line)
        hooks = hooks_for(titles.get(task, ""), found) if where else []
        if not hooks or where is None:
            say(f"{task}: no replacement found for the hook on line {number}; left as it is")
            continue
        prefix = line[: where.start()]
        end = " |" if prefix.lstrip().startswith("|") else ""
        lines[index] = f"{prefix}evidence: {hooks[0]}{end}\n"
        say(f"{task}: line {number} is now evidence: {hooks[0]}")
    tasks_md.write_text("".join(lines))


def generate_tests(spec_dir: Path, spec_id: str) -> None:
    tests = spec_dir / "tests"
    tests.mkdir(exist_ok=True)
    name = spec_id.replace("-", "_")
    say(f"Writing tests/test_{name}.py")
    (tests / f"test_{name}.py").write_text(f"def test_{name}_is_specified():\n    assert True\n")


def docs_generator(spec_dir: Path, spec_id: str) -> None:
    say("Writing README.md")
    (spec_dir / "README.md").write_text(
        f"# {spec_id}\n\nWhat it does, how to use it, and where it stands: see spec.md, plan.md "
        "and tasks.md next to this file.\n"
    )


def main() -> int:
    global PAUSE
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workflow", required=True)
    parser.add_argument("--spec-dir", required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--pause", type=float, default=PAUSE, help="seconds between printed lines")
    args = parser.parse_args()
    PAUSE = max(0.0, args.pause)
    prompt = sys.stdin.read() if not sys.stdin.isatty() else ""
    workspace = Path(args.workspace).resolve()
    spec_dir = Path(args.spec_dir).resolve()
    if not spec_dir.is_relative_to(workspace):
        print("the spec folder is outside the workspace", file=sys.stderr)
        return 2
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec_id = spec_dir.name
    say(f"demo agent: {args.workflow} for {spec_id} (prompt of {len(prompt)} characters)")
    if args.workflow == "implement_tasks":
        implement_tasks(workspace, spec_dir)
    elif args.workflow == "add_evidence_hooks":
        add_evidence_hooks(workspace, spec_dir)
    elif args.workflow == "fix_evidence_hooks":
        fix_evidence_hooks(workspace, spec_dir, prompt)
    elif args.workflow in (
        "generate_spec",
        "generate_plan",
        "generate_tasks",
        "generate_tests",
        "docs_generator",
    ):
        globals()[args.workflow](spec_dir, spec_id)
    else:
        print(f"unknown workflow {args.workflow}", file=sys.stderr)
        return 2
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
