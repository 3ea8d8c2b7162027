#!/usr/bin/env python3
"""A stand-in agent for the review tests: it keeps the prompt it received on standard
input in the workspace (agent-prompts/<n>.md, committed with the step's work), then runs
the demo agent it is given with the rest of its arguments.

Usage: prompt_agent.py DEMO_AGENT --workflow W --spec-dir DIR --workspace DIR
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    demo, *rest = sys.argv[1:]
    prompt = sys.stdin.read()
    workspace = Path(rest[rest.index("--workspace") + 1])
    kept = workspace / "agent-prompts"
    kept.mkdir(exist_ok=True)
    (kept / f"{len(list(kept.iterdir())) + 1}.md").write_text(prompt)
    return subprocess.run([sys.executable, demo, *rest], input=prompt, text=True, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
