#!/usr/bin/env python3
"""The DEMO agent: a stand-in for an AI coding CLI, shipped so a new user can watch the
autopilot go round the whole SmartSpec loop without any AI service.

It is deliberately simple and deterministic: it writes plausible spec.md, plan.md and
tasks.md files, and "implements" tasks by writing exactly what their evidence hooks ask
for. Configure a real agent instead (README, "AI agents").

Usage: demo_agent.py --workflow WORKFLOW --spec-dir DIR --workspace DIR  (prompt on stdin)
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import time
from pathlib import Path

TASK_RE = re.compile(r"^\s*[-*]\s+\[( |x|X)\]\s+(\S+)\s+(.*)$")
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
            current = match.group(2)
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workflow", required=True)
    parser.add_argument("--spec-dir", required=True)
    parser.add_argument("--workspace", required=True)
    args = parser.parse_args()
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
