"""Spec discovery in each format: SmartSpec, spec-kit, Kiro and OpenSpec (layouts.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from workflows.domain.layouts import detect_format, discover_specs, find_spec, spec_documents
from workflows.domain.spec_formats import ReadOptions, SpecFormat
from workflows.domain.status import spec_status
from workflows.domain.workspace import Workspace, is_spec_id

Copy = Callable[[str], Path]


def read(root: Path, **options: object) -> Workspace:
    return Workspace(root, options=ReadOptions(**options))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("formats/spec-kit", SpecFormat.SPEC_KIT),
        ("formats/kiro", SpecFormat.KIRO),
        ("formats/openspec", SpecFormat.OPENSPEC),
        ("formats/smartspec", SpecFormat.SMARTSPEC),
        ("basic", SpecFormat.SMARTSPEC),
    ],
)
def test_the_format_is_detected_from_the_files(
    copy_workspace: Copy, fixture: str, expected: SpecFormat
) -> None:
    ws = read(copy_workspace(fixture))
    assert detect_format(ws) is expected
    index = discover_specs(ws)
    assert index.format is expected
    assert all(s.format is expected for s in index.specs)


def test_spec_kit_numbered_folders_are_specs(copy_workspace: Copy) -> None:
    index = discover_specs(read(copy_workspace("formats/spec-kit")))
    assert [(s.spec_id, s.rel_dir) for s in index.specs] == [
        ("001-photo-albums", "specs/001-photo-albums"),
        ("002-album-sharing", "specs/002-album-sharing"),
    ]
    assert index.warnings == () and index.set_aside == ()


def test_spec_kit_is_recognised_without_specify_by_its_numbered_folders(copy_workspace: Copy) -> None:
    root = copy_workspace("formats/spec-kit")
    for path in sorted((root / ".specify").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (root / ".specify").rmdir()
    assert detect_format(read(root)) is SpecFormat.SPEC_KIT
    # An empty NNN- folder is an (empty) spec in spec-kit, as spec-… is in SmartSpec.
    (root / "specs" / "003-comments").mkdir()
    assert "003-comments" in discover_specs(read(root)).ids()


def test_kiro_reads_requirements_as_the_spec_and_design_as_the_plan(copy_workspace: Copy) -> None:
    ws = read(copy_workspace("formats/kiro"))
    index = discover_specs(ws)
    assert index.root == ".kiro/specs"
    assert index.ids() == ("search", "user-authentication")
    auth = find_spec(ws, "user-authentication")
    assert auth.file("spec.md") == ".kiro/specs/user-authentication/requirements.md"
    assert auth.file("plan.md") == ".kiro/specs/user-authentication/design.md"
    assert auth.file("tasks.md") == ".kiro/specs/user-authentication/tasks.md"
    status = spec_status(ws, auth)
    assert (status.has_spec, status.has_plan, status.has_tasks) == (True, True, True)
    search = spec_status(ws, "search")
    assert (search.has_spec, search.has_plan, search.has_tasks) == (True, False, False)


def test_openspec_changes_are_specs_archive_and_capabilities_are_set_aside(copy_workspace: Copy) -> None:
    ws = read(copy_workspace("formats/openspec"))
    index = discover_specs(ws)
    assert index.ids() == ("add-two-factor",)
    change = index.specs[0]
    assert change.rel_dir == "openspec/changes/add-two-factor"
    assert change.file("spec.md") == "openspec/changes/add-two-factor/proposal.md"
    assert [(a.rel_dir, a.reason) for a in index.set_aside] == [
        ("openspec/changes/archive/2025-01-10-add-login", "archived"),
        ("openspec/specs/auth", "capability"),
    ]
    assert index.warnings == ()
    status = spec_status(ws, change)
    assert (status.has_spec, status.has_plan, status.has_tasks) == (True, True, True)


def test_smartspec_keeps_ids_as_on_disk_and_nests_categories(copy_workspace: Copy) -> None:
    ws = read(copy_workspace("formats/smartspec"))
    index = discover_specs(ws)
    assert [(s.spec_id, s.category) for s in index.specs] == [
        ("012-AddTextClip", "features/editor"),
        ("v1.6-merge-import-export", None),
    ]
    assert [(a.rel_dir, a.reason) for a in index.set_aside] == [
        ("specs/_archived", "archived"),
        ("specs/_history", "archived"),
    ]
    assert index.warnings == ()


@pytest.mark.parametrize(
    "name", ["012-AddTextClip", "v1.6-merge-import-export", "spec-core-001", "A", "a_b.c-d"]
)
def test_ids_people_write_are_accepted(name: str) -> None:
    assert is_spec_id(name)


@pytest.mark.parametrize("name", ["..", "a..b", ".hidden", "a/b", "a b", "ไทย", "x.", "", "a" * 201, "-x"])
def test_ids_that_are_not_safe_in_a_url_or_a_path_are_refused(name: str) -> None:
    assert not is_spec_id(name)


def test_a_folder_with_an_unusable_name_is_listed_with_a_warning(copy_workspace: Copy) -> None:
    root = copy_workspace("formats/smartspec")
    (root / "specs" / "my spec").mkdir()
    (root / "specs" / "my spec" / "spec.md").write_text("# x")
    index = discover_specs(read(root))
    assert "my spec" not in index.ids()
    assert index.warnings == (
        "specs/my spec: not read, the folder name is not a usable spec id "
        "(ASCII letters, digits, '-', '_' and single dots)",
    )


def test_the_project_can_name_the_format_and_the_specs_folder(copy_workspace: Copy) -> None:
    root = copy_workspace("formats/kiro")
    # Another folder that holds Kiro-style specs: detected inside the named root.
    moved = root / "docs" / "specs"
    moved.parent.mkdir()
    (root / ".kiro" / "specs").rename(moved)
    ws = read(root, specs_root="docs/specs")
    assert detect_format(ws) is SpecFormat.KIRO
    assert discover_specs(ws).ids() == ("search", "user-authentication")
    # Named explicitly, the format wins over detection.
    as_smartspec = discover_specs(read(root, format="smartspec", specs_root="docs/specs"))
    assert as_smartspec.format is SpecFormat.SMARTSPEC
    assert as_smartspec.ids() == ("user-authentication",)  # only it holds tasks.md


def test_a_specs_folder_outside_the_workspace_is_refused(copy_workspace: Copy, tmp_path: Path) -> None:
    root = copy_workspace("formats/smartspec")
    index = discover_specs(read(root, specs_root="../elsewhere"))
    assert index.specs == () and "'..' is not allowed" in index.warnings[0]
    (tmp_path / "outside").mkdir()
    (root / "linked").symlink_to(tmp_path / "outside")
    index = discover_specs(read(root, specs_root="linked"))
    assert index.specs == () and "outside the workspace" in index.warnings[0]


def test_spec_pages_list_the_formats_own_documents(copy_workspace: Copy) -> None:
    ws = read(copy_workspace("formats/spec-kit"))
    docs = spec_documents(ws, find_spec(ws, "001-photo-albums"))
    assert docs == [
        "specs/001-photo-albums/spec.md",
        "specs/001-photo-albums/plan.md",
        "specs/001-photo-albums/tasks.md",
        "specs/001-photo-albums/research.md",
        "specs/001-photo-albums/checklists/requirements.md",
    ]
    kiro = read(copy_workspace("formats/kiro"))
    assert spec_documents(kiro, find_spec(kiro, "search")) == [".kiro/specs/search/requirements.md"]
