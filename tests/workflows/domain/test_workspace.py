from __future__ import annotations

import os
from pathlib import Path

import pytest

from workflows.domain.layouts import discover_specs, find_spec
from workflows.domain.workspace import (
    DEFAULT_MAX_FILE_BYTES,
    ScopeError,
    UnknownSpec,
    Workspace,
    WorkspaceError,
    path_problem,
)


@pytest.mark.parametrize(
    ("rel", "reason"),
    [
        ("", "empty path"),
        ("   ", "empty path"),
        ("/etc/passwd", "absolute paths are not allowed"),
        ("\\server\\share", "absolute paths are not allowed"),
        ("C:/Windows/win.ini", "absolute paths are not allowed"),
        ("../secrets", "'..' is not allowed in paths"),
        ("src/../../etc/passwd", "'..' is not allowed in paths"),
        ("src\\..\\..\\x", "'..' is not allowed in paths"),
        ("src/a\x00b", "path contains a NUL byte"),
    ],
)
def test_it_refuses_paths_that_do_not_stay_inside(basic_ws: Workspace, rel: str, reason: str) -> None:
    assert path_problem(rel) == reason
    with pytest.raises(ScopeError) as caught:
        basic_ws.resolve(rel)
    assert caught.value.reason == reason


def test_it_accepts_ordinary_relative_paths(basic_ws: Workspace) -> None:
    assert basic_ws.resolve("src/auth/views.py") == basic_ws.root / "src/auth/views.py"
    assert basic_ws.resolve("./src/auth/views.py") == basic_ws.root / "src/auth/views.py"
    assert basic_ws.resolve("no/such/file.py") == basic_ws.root / "no/such/file.py"
    assert basic_ws.resolve("..hidden-not-parent") == basic_ws.root / "..hidden-not-parent"


def test_it_refuses_a_symlink_that_resolves_outside(basic_root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0")
    (basic_root / "src" / "leak.py").symlink_to(secret)
    (basic_root / "linked-dir").symlink_to(tmp_path)
    ws = Workspace(basic_root)
    for rel in ("src/leak.py", "linked-dir/secret.txt"):
        with pytest.raises(ScopeError, match="outside the workspace"):
            ws.read_text(rel)


def test_it_follows_a_symlink_that_stays_inside(basic_root: Path) -> None:
    (basic_root / "alias.py").symlink_to(basic_root / "src" / "auth" / "views.py")
    read = Workspace(basic_root).read_text("alias.py")
    assert read.ok and "def login" in (read.text or "")


def test_it_reports_missing_files_and_directories(basic_ws: Workspace) -> None:
    missing = basic_ws.read_text("src/nope.py")
    assert (missing.text, missing.problem, missing.skipped) == (None, "missing", False)
    folder = basic_ws.read_text("src")
    assert folder.problem == "not_a_file"


def test_it_skips_binary_files_with_a_reason(basic_root: Path) -> None:
    (basic_root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    read = Workspace(basic_root).read_text("image.png")
    assert read.text is None and read.problem == "binary" and read.skipped
    assert read.message == "image.png skipped: binary file"


def test_it_only_sniffs_the_first_8_kib_for_nul_bytes(basic_root: Path) -> None:
    (basic_root / "late-nul.txt").write_bytes(b"a" * 9000 + b"\x00")
    assert Workspace(basic_root).read_text("late-nul.txt").ok


def test_it_skips_oversized_files_with_a_reason(basic_root: Path) -> None:
    (basic_root / "big.txt").write_text("x" * 101)
    ws = Workspace(basic_root, max_file_bytes=100)
    read = ws.read_text("big.txt")
    assert read.problem == "oversized" and read.skipped
    assert "101 bytes is over the 100-byte limit" in read.message
    (basic_root / "edge.txt").write_text("x" * 100)
    assert ws.read_text("edge.txt").ok


def test_it_has_a_one_mib_default_limit(basic_ws: Workspace) -> None:
    assert basic_ws.max_file_bytes == DEFAULT_MAX_FILE_BYTES == 1024 * 1024


def test_it_decodes_invalid_utf8_with_replacement_characters(basic_root: Path) -> None:
    (basic_root / "latin1.txt").write_bytes("café".encode("latin-1"))
    assert Workspace(basic_root).read_text("latin1.txt").text == "caf\ufffd"


def test_it_refuses_a_missing_workspace(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="not an existing directory"):
        Workspace(tmp_path / "nope")
    (tmp_path / "file").write_text("")
    with pytest.raises(WorkspaceError):
        Workspace(tmp_path / "file")


def test_it_writes_atomically_inside_and_refuses_escapes(basic_root: Path, tmp_path: Path) -> None:
    ws = Workspace(basic_root)
    target = ws.write_text(".spec/reports/x/run/summary.json", "{}")
    assert target.read_text() == "{}" and target.is_relative_to(ws.root)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (basic_root / "out").symlink_to(outside)
    with pytest.raises(ScopeError):
        ws.write_text("out/evil.txt", "no")
    assert list(outside.iterdir()) == []


def test_it_finds_specs_at_the_top_level_and_in_categories(basic_ws: Workspace) -> None:
    index = discover_specs(basic_ws)
    assert [(s.spec_id, s.category, s.rel_dir) for s in index.specs] == [
        ("spec-core-001-authentication", "core", "specs/core/spec-core-001-authentication"),
        ("spec-feature-002-orders", None, "specs/spec-feature-002-orders"),
    ]
    assert index.warnings == ()


def test_it_handles_the_layout_edge_cases(layout_ws: Workspace) -> None:
    index = discover_specs(layout_ws)
    assert [(s.spec_id, s.category) for s in index.specs] == [
        ("Spec-Bad", None),  # mixed case is an id as it is on disk
        ("spec-billing-001-invoices", "billing"),
        ("spec-billing-002-refunds", "billing"),
        ("spec-empty-001", None),
        ("spec-top-001-alpha", None),
    ]
    assert index.get("spec-top-001-alpha").rel_dir == "specs/spec-top-001-alpha"  # type: ignore[union-attr]
    assert any(
        "not a spec id: not read, the folder name is not a usable spec id" in w for w in index.warnings
    )
    assert any("zz-other/spec-top-001-alpha: duplicate spec id" in w for w in index.warnings)
    assert len(index.warnings) == 2
    # Set aside on purpose: listed, never an error.
    assert [(a.rel_dir, a.reason) for a in index.set_aside] == [("specs/_archived", "archived")]


def test_it_skips_a_spec_folder_symlinked_from_outside(basic_root: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "spec-evil-001"
    elsewhere.mkdir(parents=True)
    (elsewhere / "spec.md").write_text("# evil")
    (basic_root / "specs" / "spec-evil-001").symlink_to(elsewhere)
    index = discover_specs(Workspace(basic_root))
    assert "spec-evil-001" not in index.ids()
    assert any("spec-evil-001: skipped, resolves outside" in w for w in index.warnings)


def test_it_refuses_a_specs_folder_that_is_a_symlink_out(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "ws", tmp_path / "elsewhere" / "spec-a-001"
    root.mkdir()
    elsewhere.mkdir(parents=True)
    (elsewhere / "spec.md").write_text("# a")
    (root / "specs").symlink_to(elsewhere.parent)
    index = discover_specs(Workspace(root))
    assert index.specs == () and "outside the workspace" in index.warnings[0]


def test_it_finds_nothing_without_a_specs_folder(tmp_path: Path) -> None:
    assert discover_specs(Workspace(tmp_path)).specs == ()


def test_it_raises_unknown_spec(basic_ws: Workspace) -> None:
    assert find_spec(basic_ws, "spec-feature-002-orders").category is None
    with pytest.raises(UnknownSpec):
        find_spec(basic_ws, "spec-nope-404")


def test_stamps_change_when_a_file_changes(basic_ws: Workspace) -> None:
    before = basic_ws.stamp("src/auth/views.py")
    path = basic_ws.root / "src/auth/views.py"
    path.write_text(path.read_text() + "# more\n")
    os.utime(path, ns=(before.mtime_ns + 10**9, before.mtime_ns + 10**9))  # type: ignore[union-attr]
    assert basic_ws.stamp("src/auth/views.py") != before
    assert basic_ws.stamp("../x") is None and basic_ws.stamp("nope") is None


def test_a_fifo_is_not_a_file_and_never_blocks(basic_root: Path) -> None:
    os.mkfifo(basic_root / "pipe")
    read = Workspace(basic_root).read_text("pipe")
    assert read.problem == "not_a_file"


def test_a_path_through_a_file_is_missing(basic_ws: Workspace) -> None:
    assert basic_ws.read_text("src/auth/views.py/child").problem == "missing"


def test_child_stamps_follow_symlinks_only_inside(basic_root: Path, tmp_path: Path) -> None:
    spec = basic_root / "specs/spec-feature-002-orders"
    (spec / "plan.md").symlink_to(basic_root / "docs/auth.md")
    outside = tmp_path / "outside.md"
    outside.write_text("# out")
    (spec / "tasks.md").symlink_to(outside)
    ws = Workspace(basic_root)
    stamps = ws.child_stamps("specs/spec-feature-002-orders", ("spec.md", "plan.md", "tasks.md", "x"))
    assert stamps[0] == ws.stamp("specs/spec-feature-002-orders/spec.md") is not None
    assert stamps[1] == ws.stamp("docs/auth.md") is not None
    assert stamps[2:] == (None, None)
    assert ws.child_stamps("../elsewhere", ("a",)) == (None,)
