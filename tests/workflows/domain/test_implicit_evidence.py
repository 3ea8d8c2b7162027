"""Implicit evidence: a task without hooks whose title names an existing file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from workflows.domain.spec_formats import DEFAULT_OPTIONS, ReadOptions, SpecFormat
from workflows.domain.status import StatusCache, spec_detail
from workflows.domain.tasks_parser import parse_tasks, title_paths
from workflows.domain.verification import TaskResult, VerificationReport, verify_document, verify_spec
from workflows.domain.workspace import SpecLocation, Workspace

from .conftest import set_mtime

WEB = ReadOptions(source_roots=("apps/web",))


@pytest.fixture
def dialects_root(copy_workspace: Callable[[str], Path]) -> Path:
    return copy_workspace("dialects")


def _spec_kit(
    root: Path, options: ReadOptions = WEB, spec_format: SpecFormat = SpecFormat.SPEC_KIT
) -> VerificationReport:
    text = (root / "spec-kit/tasks.md").read_text(encoding="utf-8")
    return verify_document(
        Workspace(root, options=options), parse_tasks(text), spec_id="001-sign-in", spec_format=spec_format
    )


def _one(root: Path, title: str, *, options: ReadOptions = DEFAULT_OPTIONS, hooks: str = "") -> TaskResult:
    tasks = f"- [x] T1 {title}\n{hooks}"
    ws = Workspace(root, options=options)
    return verify_document(ws, parse_tasks(tasks), spec_id="s", spec_format=SpecFormat.SPEC_KIT).tasks[0]


# --- which paths a title names -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "paths"),
    [
        ("Create User model in src/models/user.py", ("src/models/user.py",)),
        ("Add `pyproject.toml` and `src/app/main.py`.", ("pyproject.toml", "src/app/main.py")),
        ("Configure CI in .github/workflows/ci.yml", (".github/workflows/ci.yml",)),
        ("Edit ./src/a.py, then src/b.ts;", ("src/a.py", "src/b.ts")),
        ("Create the project skeleton in src/", ()),
        ("See https://example.com/docs/page.html", ()),
        ("Read /etc/hosts.allow", ()),
        ("Models in src/models/*.py", ()),
        ("Support TCP/IP and and/or", ()),
        ("Bump to version `1.2.3`", ()),
        ("Refuse ../secret.py", ("../secret.py",)),
    ],
)
def test_the_paths_a_title_names(title: str, paths: tuple[str, ...]) -> None:
    assert title_paths(title) == paths
    assert parse_tasks(f"- [ ] T1 {title}\n").tasks[0].paths == paths


# --- when it applies -----------------------------------------------------------------------------


def test_it_is_on_by_default_for_spec_kit(dialects_root: Path) -> None:
    report = _spec_kit(dialects_root)
    assert report.statuses() == {
        "T001": "missing_evidence", "T002": "missing_evidence", "T003": "verified",
        "T004": "missing_evidence", "T005": "verified", "T006": "verified",
        "T007": "missing_evidence", "T008": "missing_evidence",
    }  # fmt: skip
    tasks = {t.id: t for t in report.tasks}
    assert tasks["T003"].reasons == (
        "line 14: satisfied: implicit: src/models/user.py exists (named in the task; no evidence hook)",
    )
    assert tasks["T004"].reasons == (
        "no evidence hook under this task",
        "implicit: src/services/sessions.py not found "
        "(looked for src/services/sessions.py, apps/web/src/services/sessions.py)",
    )
    assert tasks["T007"].reasons == ("no evidence hook under this task",)
    assert (report.total, report.checked, report.verified) == (8, 5, 3)


def test_it_is_off_by_default_for_smartspec(dialects_root: Path) -> None:
    report = _spec_kit(dialects_root, spec_format=SpecFormat.SMARTSPEC)
    assert set(report.statuses().values()) == {"missing_evidence"}
    assert {t.id: t for t in report.tasks}["T003"].reasons == (
        "no evidence hook under this task",
        "drift: checked, but not verified",
    )
    # verify_document's default format is SmartSpec, so callers that pass none keep the old rules.
    text = (dialects_root / "spec-kit/tasks.md").read_text(encoding="utf-8")
    assert verify_document(Workspace(dialects_root), parse_tasks(text), spec_id="x").verified == 0


def test_it_is_off_when_the_option_says_so(dialects_root: Path) -> None:
    off = ReadOptions(implicit_evidence=False, source_roots=("apps/web",))
    assert _spec_kit(dialects_root, off).verified == 0
    on = ReadOptions(implicit_evidence=True, source_roots=("apps/web",))
    assert _spec_kit(dialects_root, on, SpecFormat.SMARTSPEC).verified == 3


@pytest.mark.parametrize("spec_format", [SpecFormat.KIRO, SpecFormat.OPENSPEC])
def test_it_is_on_by_default_for_kiro_and_openspec(tmp_path: Path, spec_format: SpecFormat) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/app.ts").write_text("export const app = 1;\n")
    doc = parse_tasks("- [x] 1. Create `src/app.ts`\n")
    report = verify_document(Workspace(tmp_path), doc, spec_id="s", spec_format=spec_format)
    assert report.statuses() == {"1": "verified"}


def test_source_roots_are_tried_after_the_path_as_written(tmp_path: Path) -> None:
    (tmp_path / "apps/web/src").mkdir(parents=True)
    (tmp_path / "packages/api/src").mkdir(parents=True)
    (tmp_path / "packages/api/src/a.ts").write_text("export {};\n")
    options = ReadOptions(source_roots=("apps/web", "/packages/api/", ""))
    result = _one(tmp_path, "Write src/a.ts", options=options)
    assert (result.status, result.reasons) == (
        "verified",
        (
            "line 1: satisfied: implicit: packages/api/src/a.ts exists (the task names src/a.ts; no evidence hook)",
        ),
    )
    # The path as written wins when it exists too.
    (tmp_path / "src").mkdir()
    (tmp_path / "src/a.ts").write_text("export {};\n")
    assert _one(tmp_path, "Write src/a.ts", options=options).hooks[0].hook.path == "src/a.ts"


def test_a_task_with_hooks_is_judged_by_its_hooks_only(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/a.py").write_text("X = 1\n")
    result = _one(tmp_path, "Edit src/a.py", hooks="  evidence: code path=src/a.py contains=Y\n")
    assert result.status == "not_verified" and not result.implicit


def test_one_named_path_that_exists_is_enough(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/b.py").write_text("B = 1\n")
    result = _one(tmp_path, "Split src/a.py into src/b.py")
    assert result.status == "verified"
    assert result.reasons == (
        "line 1: satisfied: implicit: src/b.py exists (named in the task; no evidence hook)",
        "implicit: src/a.py not found (looked for src/a.py)",
    )


def test_an_empty_file_or_a_folder_is_not_implicit_evidence(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/empty.py").write_text("")
    (tmp_path / "src/pkg.py").mkdir()
    (tmp_path / "src/pkg.py/inside.py").write_text("X = 1\n")
    assert _one(tmp_path, "Fill src/empty.py").reasons == (
        "no evidence hook under this task",
        "implicit: src/empty.py not found (looked for src/empty.py)",
        "drift: checked, but not verified",
    )
    assert _one(tmp_path, "Make src/pkg.py").status == "missing_evidence"


# --- never outside the workspace -----------------------------------------------------------------


def test_dot_dot_is_never_implicit_evidence(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (tmp_path / "secret.py").write_text("KEY = 1\n")
    result = _one(root, "Read ../secret.py and `src/../../secret.py`")
    assert result.status == "missing_evidence" and result.hooks == ()
    assert result.reasons[1:3] == (
        "implicit: ../secret.py is not used: '..' is not allowed in paths",
        "implicit: src/../../secret.py is not used: '..' is not allowed in paths",
    )


def test_a_symlink_out_of_the_workspace_is_never_implicit_evidence(tmp_path: Path) -> None:
    (tmp_path / "secret.py").write_text("KEY = 1\n")
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src/link.py").symlink_to(tmp_path / "secret.py")
    (root / "apps").symlink_to(tmp_path)  # a source root that leaves the workspace
    result = _one(root, "Use src/link.py and ws/src/link.py", options=ReadOptions(source_roots=("apps",)))
    assert result.status == "missing_evidence" and result.hooks == ()
    assert (
        "implicit: src/link.py is not used: resolves outside the workspace (through a symlink)"
        in result.reasons
    )
    assert (
        "implicit: apps/ws/src/link.py is not used: resolves outside the workspace (through a symlink)"
        in (result.reasons)
    )


def test_a_symlink_inside_the_workspace_counts(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/real.py").write_text("X = 1\n")
    (tmp_path / "src/alias.py").symlink_to(tmp_path / "src/real.py")
    assert _one(tmp_path, "Alias src/alias.py").status == "verified"


# --- how it is reported --------------------------------------------------------------------------


def test_the_implicit_hook_is_marked_in_the_results(dialects_root: Path) -> None:
    report = _spec_kit(dialects_root)
    data = {t["id"]: t for t in report.as_dict()["tasks"]}  # type: ignore[attr-defined]
    assert data["T006"]["implicit_evidence"] is True and data["T007"]["implicit_evidence"] is False
    assert data["T006"]["matched_hooks"] == [20]
    assert data["T006"]["hooks"] == [
        {
            "line": 20,
            "type": "code",
            "params": {"path": "apps/web/src/pages/login.tsx"},
            "raw": "code path=apps/web/src/pages/login.tsx",
            "error": None,
            "implicit": True,
            "outcome": "satisfied",
            "reason": "implicit: apps/web/src/pages/login.tsx exists "
            "(the task names src/pages/login.tsx; no evidence hook)",
        }
    ]
    assert report.invalid_hooks == 0


def test_verify_spec_uses_the_spec_format(dialects_root: Path) -> None:
    ws = Workspace(dialects_root, options=WEB)
    kit = SpecLocation("001-sign-in", None, "spec-kit", format=SpecFormat.SPEC_KIT)
    ours = SpecLocation("001-sign-in", None, "spec-kit")
    assert verify_spec(ws, kit).verified == 3
    assert verify_spec(ws, ours).verified == 0
    assert spec_detail(ws, kit).status.tasks_verified == 3


# --- the status cache ----------------------------------------------------------------------------


def _cache_workspace(root: Path, **options: object) -> tuple[StatusCache, Path]:
    spec = root / "specs" / "spec-x-001"
    spec.mkdir(parents=True)
    (spec / "tasks.md").write_text("- [ ] T1 Create src/models/user.py\n- [ ] T2 Nothing named\n")
    return StatusCache(Workspace(root, options=ReadOptions(**options))), root / "src/models/user.py"  # type: ignore[arg-type]


def test_the_status_cache_sees_a_named_file_appear_and_change(tmp_path: Path) -> None:
    cache, user = _cache_workspace(tmp_path, implicit_evidence=True)
    assert cache.status("spec-x-001").tasks_verified == 0
    assert cache.status("spec-x-001").tasks_verified == 0 and cache.stats()["hits"] == 1
    user.parent.mkdir(parents=True)
    user.write_text("class User: ...\n")
    assert cache.status("spec-x-001").tasks_verified == 1
    user.write_text("")  # emptied: no longer evidence
    set_mtime(user, user.stat().st_mtime + 1)
    assert cache.status("spec-x-001").tasks_verified == 0
    assert cache.stats()["misses"] == 3


def test_the_status_cache_watches_the_source_roots_too(tmp_path: Path) -> None:
    cache, _ = _cache_workspace(tmp_path, implicit_evidence=True, source_roots=("apps/web",))
    assert cache.status("spec-x-001").tasks_verified == 0
    nested = tmp_path / "apps/web/src/models/user.py"
    nested.parent.mkdir(parents=True)
    nested.write_text("class User: ...\n")
    assert cache.status("spec-x-001").tasks_verified == 1


def test_without_implicit_evidence_named_files_are_not_watched(tmp_path: Path) -> None:
    cache, user = _cache_workspace(tmp_path)  # a SmartSpec spec: off by default
    assert cache.status("spec-x-001").tasks_verified == 0
    user.parent.mkdir(parents=True)
    user.write_text("class User: ...\n")
    assert cache.status("spec-x-001").tasks_verified == 0
    assert cache.stats() == {"hits": 1, "misses": 1, "entries": 1}
