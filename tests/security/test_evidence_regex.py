"""Evidence hook regexes cannot stall a process (ReDoS): they run on a linear-time engine."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workflows.domain.evidence import UNSUPPORTED_REGEX, compile_regex, parse_hook
from workflows.domain.tasks_parser import parse_tasks
from workflows.domain.verification import verify_document
from workflows.domain.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
# A backtracking engine needs 2**n steps for `(a+)+$` on n a's and a "!": 29 took 13 s.
EVIL_TEXT = "a" * 40 + "!"
# Generous: a linear-time engine answers in milliseconds, a backtracking one never in time.
BOUND_SECONDS = 10

# Runs in a child process, so a regression is killed at the bound instead of hanging pytest.
_CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from workflows.domain.tasks_parser import parse_tasks
    from workflows.domain.verification import verify_document
    from workflows.domain.workspace import Workspace

    root, text = Path(sys.argv[1]), sys.argv[2]
    (root / "evil.txt").write_text(text)
    (root / "fine.txt").write_text("aaaa\\n")
    tasks = (
        '- [ ] T1 evil\\n  evidence: code path=evil.txt regex="(a+)+$"\\n'
        '- [ ] T2 fine\\n  evidence: code path=fine.txt regex="(a+)+$"\\n'
    )
    report = verify_document(Workspace(root), parse_tasks(tasks), spec_id="spec-x-001")
    print(json.dumps(report.statuses()))
    """
)


def _verify(tmp_path: Path, files: dict[str, str], tasks: str) -> tuple[str, tuple[str, ...]]:
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    report = verify_document(Workspace(tmp_path), parse_tasks(tasks), spec_id="spec-x-001")
    return str(report.tasks[0].status), report.tasks[0].reasons


def test_a_catastrophic_regex_is_decided_promptly(tmp_path: Path) -> None:
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(tmp_path), EVIL_TEXT],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=BOUND_SECONDS,
            check=True,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"verifying a (a+)+$ hook on {len(EVIL_TEXT)} bytes took over {BOUND_SECONDS} s")
    assert json.loads(done.stdout) == {"T1": "not_verified", "T2": "verified"}


@pytest.mark.parametrize(
    ("regex", "feature"),
    [
        (r"(def)\s+\1", "backreference"),
        (r"(?P<name>x)(?P=name)", "backreference"),
        (r"def (?=hash)", "lookaround"),
        (r"(?<!_)hash", "lookaround"),
        (r"(?>a+)b", "atomic group"),
        (r"a++b", "possessive quantifier"),
    ],
)
def test_features_that_need_backtracking_are_invalid_evidence(
    tmp_path: Path, regex: str, feature: str
) -> None:
    tasks = f'- [ ] T1 x\n  evidence: code path=a.py regex="{regex}"\n'
    status, reasons = _verify(tmp_path, {"a.py": "def def hash():\n"}, tasks)
    assert status == "invalid_evidence"
    assert f"bad regex {regex!r}: {UNSUPPORTED_REGEX}: {feature} (" in reasons[0]
    assert isinstance(compile_regex(regex), str)


def test_other_unsupported_syntax_is_refused_with_the_engine_reason() -> None:
    hook = parse_hook(r'code path=a.py regex="end\Z"')
    assert hook.error == rf"bad regex 'end\\Z': {UNSUPPORTED_REGEX}: invalid escape sequence: \Z"


def test_python_syntax_errors_keep_their_message() -> None:
    hook = parse_hook('code path=a.py regex="(unclosed"')
    assert hook.error == "bad regex '(unclosed': missing ), unterminated subpattern at position 0"


@pytest.mark.parametrize(
    ("regex", "status"),
    [
        (r"^MAX_ITEMS:\s*int\s*=\s*\d+$", "verified"),  # ^ and $ hold per line
        (r"^    return 'ok'$", "verified"),
        (r"^MAX_ITEMS$", "not_verified"),
        (r"(?i)^max_items", "verified"),
        (r"(?P<name>ret)urn", "verified"),
        (r"return\s+'ok'$\n^MAX", "verified"),  # a pattern may span lines
        (r"ok'.MAX", "not_verified"),  # . stops at a newline, as in Python
        (r"(?s)ok'.MAX", "verified"),
    ],
)
def test_ordinary_regexes_behave_as_before(tmp_path: Path, regex: str, status: str) -> None:
    files = {"a.py": "def f():\n    return 'ok'\nMAX_ITEMS: int = 20\n"}
    tasks = f'- [ ] T1 x\n  evidence: code path=a.py regex="{regex}"\n'
    assert _verify(tmp_path, files, tasks)[0] == status
