"""A stand-in agent command that reports its usage the way README ("AI agents") says.

usage_agent.py CALLS_FILE COST [-- COMMAND…]  — appends one line to CALLS_FILE (so a test
counts the calls), prints a line of work, runs COMMAND when given (with this prompt on its
standard input: the demo agent does the real work), then prints two usage lines that add
up: 1000 + 200 input tokens, 300 output tokens, and COST USD in all ("none": no cost;
"silent": no usage line at all).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

calls, cost = Path(sys.argv[1]), sys.argv[2]
command = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else []
with calls.open("a") as out:
    out.write("called\n")
print("working on it", flush=True)
status = subprocess.run(command, stdin=sys.stdin, check=False).returncode if command else 0
if cost != "silent":
    print(json.dumps({"smartspec_usage": {"input_tokens": 1000}}), flush=True)
    last: dict[str, object] = {"input_tokens": 200, "output_tokens": 300}
    if cost != "none":
        last["cost_usd"] = float(cost)
    print(json.dumps({"smartspec_usage": last}), flush=True)
sys.exit(status)
