from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from workflows.domain.evidence import Hook, parse_hook
from workflows.domain.reports import read_summary, render_verification, write_verification_report
from workflows.domain.tasks_parser import parse_tasks
from workflows.domain.verification import (
    FileCache,
    HookOutcome,
    HookResult,
    TaskStatus,
    decide_status,
    evaluate_hook,
    verify_document,
    verify_spec,
)
from workflows.domain.workspace import UnknownSpec, Workspace

from .conftest import BASIC_SPEC, LAB_SPEC

BASIC_EXPECTED = {
    "TSK-AUTH-001": "verified",
    "TSK-AUTH-002": "verified",
    "TSK-AUTH-003": "not_verified",
    "TSK-AUTH-004": "verified",
    "TSK-AUTH-005": "not_verified",
    "T006": "needs_manual",
    "T007": "missing_evidence",
    "T008": "invalid_scope",
    "T009": "invalid_evidence",
}

LAB_EXPECTED = {
    "LAB-001": "verified", "LAB-002": "verified", "LAB-003": "verified",
    "LAB-004": "verified", "LAB-005": "not_verified", "LAB-006": "verified",
    "LAB-007": "verified", "LAB-008": "verified", "LAB-009": "not_verified",
    "LAB-010": "verified", "LAB-011": "verified", "LAB-012": "not_verified",
    "LAB-020": "not_verified", "LAB-021": "not_verified", "LAB-022": "invalid_scope",
    "LAB-023": "verified", "LAB-024": "invalid_scope", "LAB-025": "invalid_evidence",
    "LAB-026": "invalid_evidence", "LAB-027": "invalid_evidence", "LAB-028": "not_verified",
    "LAB-029": "needs_manual", "LAB-030": "missing_evidence", "LAB-031": "verified",
    "LAB-032": "invalid_scope", "LAB-033": "invalid_evidence", "LAB-034": "not_verified",
}  # fmt: skip


def test_the_sample_workspace_gives_the_expected_results(basic_ws: Workspace) -> None:
    report = verify_spec(basic_ws, BASIC_SPEC, run_id="r1")
    assert report.statuses() == BASIC_EXPECTED
    assert (report.total, report.checked, report.verified) == (9, 4, 3)
    assert report.checked_not_verified == ("T006", "T007")
    assert report.verified_not_checked == ("TSK-AUTH-004",)


def test_the_sample_reasons_say_why(basic_ws: Workspace) -> None:
    tasks = {t.id: t for t in verify_spec(basic_ws, BASIC_SPEC).tasks}
    assert tasks["TSK-AUTH-001"].reasons[0] == (
        "line 13: satisfied: symbol hash_password is defined in src/auth/passwords.py"
    )
    assert tasks["TSK-AUTH-002"].matched_hooks == (17,)
    assert tasks["TSK-AUTH-003"].reasons == (
        'line 20: not_satisfied: "ratelimit" is not in src/auth/views.py',
    )
    # The table-row hook is evaluated and fails; the regex hook still verifies the task.
    assert tasks["TSK-AUTH-004"].matched_hooks == (25,)
    assert tasks["TSK-AUTH-004"].reasons[1] == (
        'line 29: not_satisfied: docs/auth.md has no heading "Signing in"'
    )
    assert tasks["TSK-AUTH-004"].reasons[-1] == "drift: verified, but not checked"
    assert tasks["T007"].reasons == (
        "no evidence hook under this task",
        "drift: checked, but not verified",
    )
    assert "'..' is not allowed" in tasks["T008"].reasons[0]
    assert tasks["T009"].reasons == ("line 43: invalid_evidence: a code hook needs path=",)


def test_every_task_of_both_fixtures_has_reasons(basic_ws: Workspace, lab_ws: Workspace) -> None:
    for ws, spec in ((basic_ws, BASIC_SPEC), (lab_ws, LAB_SPEC)):
        assert all(t.reasons for t in verify_spec(ws, spec).tasks)


def test_the_lab_workspace_gives_every_status(lab_ws: Workspace) -> None:
    report = verify_spec(lab_ws, LAB_SPEC)
    assert report.statuses() == LAB_EXPECTED
    assert (report.total, report.checked, report.verified) == (27, 10, 11)
    assert report.checked_not_verified == ("LAB-029",)
    assert report.verified_not_checked == ("LAB-023", "LAB-031")
    assert set(report.by_status()) == {s.value for s in TaskStatus}


def test_binary_and_oversized_files_are_skipped_with_warnings(lab_ws: Workspace) -> None:
    report = verify_spec(lab_ws, LAB_SPEC)
    assert report.warnings == (
        "assets/logo.bin skipped: binary file",
        "data/big.txt skipped: 5000 bytes is over the 4096-byte limit",
    )


def test_the_default_size_limit_reads_the_big_file(lab_root: Path) -> None:
    report = verify_spec(Workspace(lab_root), LAB_SPEC)
    assert report.statuses()["LAB-021"] == "verified"


# --- one test per status, each on the smallest workspace that shows it -----------------------


def _verify_one(tmp_path: Path, files: dict[str, str], tasks: str) -> str:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    report = verify_document(Workspace(tmp_path), parse_tasks(tasks), spec_id="spec-x-001")
    return str(report.tasks[0].status)


def test_status_verified(tmp_path: Path) -> None:
    tasks = "- [ ] T1 x\n  evidence: code path=a.py symbol=f\n"
    assert _verify_one(tmp_path, {"a.py": "def f(): pass\n"}, tasks) == "verified"


def test_status_not_verified(tmp_path: Path) -> None:
    tasks = "- [x] T1 x\n  evidence: code path=a.py symbol=g\n"
    assert _verify_one(tmp_path, {"a.py": "def f(): pass\n"}, tasks) == "not_verified"


def test_status_missing_evidence(tmp_path: Path) -> None:
    assert _verify_one(tmp_path, {}, "- [x] T1 x\n") == "missing_evidence"


def test_status_invalid_evidence(tmp_path: Path) -> None:
    tasks = '- [ ] T1 x\n  evidence: code contains="x"\n'
    assert _verify_one(tmp_path, {}, tasks) == "invalid_evidence"


def test_status_invalid_scope_through_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("SECRET = 1\n")
    root = tmp_path / "ws"
    root.mkdir()
    (root / "link.py").symlink_to(outside)
    tasks = "- [ ] T1 x\n  evidence: code path=link.py symbol=SECRET\n"
    assert _verify_one(root, {}, tasks) == "invalid_scope"


def test_status_needs_manual(tmp_path: Path) -> None:
    assert _verify_one(tmp_path, {}, "- [ ] T1 x\n  evidence: ui screen=Home\n") == "needs_manual"


# --- precedence ------------------------------------------------------------------------------


def _result(outcome: HookOutcome) -> HookResult:
    return HookResult(Hook(1, "", "code"), outcome, "")


@pytest.mark.parametrize(
    ("outcomes", "status"),
    [
        ((), TaskStatus.MISSING_EVIDENCE),
        ((HookOutcome.SATISFIED, HookOutcome.INVALID_SCOPE), TaskStatus.VERIFIED),
        ((HookOutcome.INVALID_EVIDENCE, HookOutcome.SATISFIED), TaskStatus.VERIFIED),
        ((HookOutcome.INVALID_EVIDENCE, HookOutcome.INVALID_SCOPE), TaskStatus.INVALID_SCOPE),
        ((HookOutcome.NOT_SATISFIED, HookOutcome.INVALID_EVIDENCE), TaskStatus.INVALID_EVIDENCE),
        ((HookOutcome.NEEDS_MANUAL, HookOutcome.NOT_SATISFIED), TaskStatus.NOT_VERIFIED),
        ((HookOutcome.NEEDS_MANUAL, HookOutcome.NEEDS_MANUAL), TaskStatus.NEEDS_MANUAL),
    ],
)
def test_precedence_of_mixed_outcomes(outcomes: tuple[HookOutcome, ...], status: TaskStatus) -> None:
    assert decide_status(tuple(_result(o) for o in outcomes)) is status


def test_every_condition_of_a_hook_must_hold(tmp_path: Path) -> None:
    files = {"a.py": "def f():\n    return 'ok'\n"}
    both = "- [ ] T1 x\n  evidence: code path=a.py symbol=f contains=ok regex=\"return\\s+'ok'\"\n"
    assert _verify_one(tmp_path, files, both) == "verified"
    one_fails = "- [ ] T1 x\n  evidence: code path=a.py symbol=f contains=nope\n"
    assert _verify_one(tmp_path, files, one_fails) == "not_verified"


def test_a_hook_on_a_directory_is_not_satisfied(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    assert _verify_one(tmp_path, {}, "- [ ] T1 x\n  evidence: code path=src\n") == "not_verified"


def test_a_test_hook_records_its_command_and_never_runs_it(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    tasks = f'- [ ] T1 x\n  evidence: test path=t.py command="touch {marker}"\n'
    (tmp_path / "t.py").write_text("def test_x(): pass\n")
    report = verify_document(Workspace(tmp_path), parse_tasks(tasks), spec_id="s")
    assert report.tasks[0].verified and not marker.exists()
    assert f"command recorded, not run: touch {marker}" in report.tasks[0].reasons[0]


def test_each_file_is_read_once_per_verification(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def f(): pass\nX = 1\n")
    (tmp_path / "d.md").write_text("# Title\n")
    hooks = "".join(
        f"- [ ] T{i} x\n  evidence: code path=a.py symbol=f\n"
        "  evidence: code path=a.py contains=X\n  evidence: docs path=d.md heading=Title\n"
        for i in range(50)
    )
    files = FileCache(Workspace(tmp_path))
    report = verify_document(files.workspace, parse_tasks(hooks), spec_id="s", files=files)
    assert report.verified == 50 and files.disk_reads == 2


def test_unknown_spec_raises(basic_ws: Workspace) -> None:
    with pytest.raises(UnknownSpec):
        verify_spec(basic_ws, "spec-nope-001")


def test_a_spec_without_tasks_gives_an_empty_report(basic_ws: Workspace) -> None:
    report = verify_spec(basic_ws, "spec-feature-002-orders")
    assert report.tasks == () and "tasks.md does not exist" in report.warnings[0]


def test_the_report_dict_is_json_and_complete(basic_ws: Workspace) -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    data = verify_spec(basic_ws, BASIC_SPEC, run_id="run-7", now=moment).as_dict()
    json.dumps(data)
    assert data["workflow"] == "verify-tasks-progress" and data["run_id"] == "run-7"
    assert data["generated_at"] == "2025-01-02T03:04:05+00:00"
    assert data["totals"] == {
        "tasks": 9, "checked": 4, "verified": 3, "invalid_hooks": 2,
        "by_status": {
            "verified": 3, "not_verified": 2, "missing_evidence": 1,
            "invalid_evidence": 1, "invalid_scope": 1, "needs_manual": 1,
        },
    }  # fmt: skip
    assert data["drift"] == {
        "checked_not_verified": ["T006", "T007"],
        "verified_not_checked": ["TSK-AUTH-004"],
    }
    assert data["ok"] is False
    first = data["tasks"][0]  # type: ignore[index]
    assert first["matched_hooks"] == [13, 14] and first["hooks"][0]["outcome"] == "satisfied"


def test_a_generated_run_id_is_a_timestamp(basic_ws: Workspace) -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert verify_spec(basic_ws, BASIC_SPEC, now=moment).run_id.startswith("20250102T030405")


def test_the_report_is_written_as_summary_and_markdown(basic_ws: Workspace) -> None:
    report = verify_spec(basic_ws, BASIC_SPEC, run_id="run-1")
    ref = write_verification_report(basic_ws, report)
    assert ref.rel_dir == ".spec/reports/verify-tasks-progress/run-1"
    summary = read_summary(basic_ws, ref)
    assert summary is not None and summary["spec_id"] == BASIC_SPEC
    assert summary["totals"]["verified"] == 3
    markdown = (basic_ws.root / ref.markdown_rel).read_text()
    assert markdown == render_verification(report)
    assert "**9 tasks, 4 checked, 3 verified.**" in markdown
    assert "Checked but not verified: T006, T007." in markdown
    assert "| T008 | [ ] | invalid_scope |" in markdown


def test_report_markdown_escapes_pipes(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x\n")
    tasks = '- [ ] T1 x\n  evidence: code path=a.py contains="a|b"\n'
    report = verify_document(Workspace(tmp_path), parse_tasks(tasks), spec_id="s", run_id="r")
    assert '"a\\|b" is not in a.py' in render_verification(report)


def test_hook_reason_for_a_heading(tmp_path: Path) -> None:
    (tmp_path / "d.md").write_text("Intro\n-----\n")
    files = FileCache(Workspace(tmp_path))
    result = evaluate_hook(parse_hook("docs path=d.md heading=intro"), files)
    assert result.outcome is HookOutcome.SATISFIED and result.reason == 'd.md has heading "intro"'
