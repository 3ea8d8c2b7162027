"""`spec_status` and `verify_tasks`: the SmartSpec rules for CI, with no database."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

REPO = Path(__file__).resolve().parents[2]
BASIC = REPO / "tests" / "fixtures" / "workspaces" / "basic"
SPEC = "spec-core-001-authentication"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return Path(shutil.copytree(BASIC, tmp_path / "ws", symlinks=True))


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_spec_status_prints_a_table(ws: Path) -> None:
    code, out, err = run("spec_status", str(ws))
    lines = out.splitlines()
    assert code == 0 and err == ""
    # WARNINGS and FORMAT were added at the end, so the first eight columns keep their places.
    assert lines[0].split() == [
        "SPEC", "STATUS", "VERIFIED", "CHECKED", "TASKS", "NEXT", "PRIORITY", "MINUTES",
        "WARNINGS", "FORMAT",
    ]  # fmt: skip
    # T009's malformed hook is also a parse issue: one warning.
    assert lines[1].split() == [
        SPEC, "IN_PROGRESS", "3", "4", "9", "sync_tasks_checkboxes", "high", "2", "1", "smartspec",
    ]  # fmt: skip
    assert lines[2].split() == [
        "spec-feature-002-orders", "NOT_STARTED", "0", "0", "0", "generate_plan", "high", "20",
        "0", "smartspec",
    ]  # fmt: skip
    assert "spec-feature-002-orders: generate_plan because plan.md is missing" in out


def test_spec_status_json(ws: Path) -> None:
    code, out, _ = run("spec_status", str(ws), "--json")
    data = json.loads(out)
    assert code == 0 and data["workspace"] == str(ws.resolve())
    specs = {s["spec_id"]: s for s in data["specs"]}
    auth = specs[SPEC]
    assert auth["tasks"] == {"total": 9, "checked": 4, "verified": 3}
    assert auth["drift"] == {
        "checked_not_verified": ["T006", "T007"],
        "verified_not_checked": ["TSK-AUTH-004"],
    }
    assert auth["next"]["workflow"] == "sync_tasks_checkboxes"
    assert auth["next"]["priority"] == "high"
    assert specs["spec-feature-002-orders"]["next"]["workflow"] == "generate_plan"


def test_spec_status_of_a_workspace_without_specs(tmp_path: Path) -> None:
    code, out, _ = run("spec_status", str(tmp_path))
    assert code == 0 and "No specs found under specs/." in out


def test_spec_status_exits_2_for_a_missing_workspace(tmp_path: Path) -> None:
    code, out, err = run("spec_status", str(tmp_path / "nope"))
    assert code == 2 and out == ""
    assert err.strip() == f"spec_status: workspace '{tmp_path / 'nope'}' is not an existing directory"


def test_verify_tasks_exits_1_when_a_task_is_checked_but_not_verified(ws: Path) -> None:
    code, out, err = run("verify_tasks", str(ws), SPEC)
    assert code == 1 and err == ""
    assert out.splitlines()[0] == f"{SPEC}: 9 tasks, 4 checked, 3 verified"
    assert "  [ ] TSK-AUTH-004  verified" in out
    assert "Checked but not verified: T006, T007" in out
    assert not (ws / ".spec").exists()


def test_verify_tasks_json(ws: Path) -> None:
    code, out, _ = run("verify_tasks", str(ws), SPEC, "--json", "--run-id", "ci-1")
    data = json.loads(out)
    assert code == 1 and data["run_id"] == "ci-1" and data["report_dir"] is None
    assert {t["id"]: t["status"] for t in data["tasks"]} == {
        "TSK-AUTH-001": "verified", "TSK-AUTH-002": "verified", "TSK-AUTH-003": "not_verified",
        "TSK-AUTH-004": "verified", "TSK-AUTH-005": "not_verified", "T006": "needs_manual",
        "T007": "missing_evidence", "T008": "invalid_scope", "T009": "invalid_evidence",
    }  # fmt: skip
    assert data["totals"]["tasks"] == 9 and data["totals"]["checked"] == 4


def test_verify_tasks_writes_the_report_when_asked(ws: Path) -> None:
    code, out, _ = run("verify_tasks", str(ws), SPEC, "--write-report", "--run-id", "ci-2")
    folder = ws / ".spec/reports/verify-tasks-progress/ci-2"
    assert code == 1 and "Report written to .spec/reports/verify-tasks-progress/ci-2/" in out
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["spec_id"] == SPEC and summary["totals"]["verified"] == 3
    assert (folder / "report.md").read_text().startswith(f"# Verification: {SPEC}")


def test_verify_tasks_exits_0_when_every_checked_task_is_verified(ws: Path) -> None:
    tasks = ws / "specs/core/spec-core-001-authentication/tasks.md"
    text = tasks.read_text().replace("- [x] T006", "- [ ] T006").replace("- [x] T007", "- [ ] T007")
    tasks.write_text(text)
    code, _, _ = run("verify_tasks", str(ws), SPEC)
    assert code == 0
    code, _, _ = run("verify_tasks", str(ws), "spec-feature-002-orders")  # no tasks.md
    assert code == 0


def test_verify_tasks_exits_2_for_an_unknown_spec(ws: Path) -> None:
    code, out, err = run("verify_tasks", str(ws), "spec-nope-404")
    assert code == 2 and out == ""
    assert err.strip() == (
        f"verify_tasks: unknown spec id 'spec-nope-404' in {ws.resolve()} "
        f"(known: {SPEC}, spec-feature-002-orders)"
    )


def test_verify_tasks_exits_2_for_a_missing_workspace(tmp_path: Path) -> None:
    code, _, err = run("verify_tasks", str(tmp_path / "nope"), SPEC)
    assert code == 2 and "is not an existing directory" in err and len(err.strip().splitlines()) == 1


def test_verify_tasks_exits_2_for_a_run_id_that_is_a_path(ws: Path) -> None:
    code, _, err = run("verify_tasks", str(ws), SPEC, "--write-report", "--run-id", "../../x")
    assert code == 2 and "invalid run id" in err and not (ws / ".spec").exists()


def manage(*args: str) -> subprocess.CompletedProcess[str]:
    """A management command run as a user runs it: a real process, its own stdout/stderr."""
    command = [sys.executable, "manage.py", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def test_the_real_command_line_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    done = manage("verify_tasks", str(tmp_path / "nope"), SPEC)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"verify_tasks: workspace '{tmp_path / 'nope'}' is not an existing directory"
    ]
