"""Fixture workspaces for the SmartSpec domain tests, always copied into tmp_path first."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from workflows.domain.workspace import Workspace

WORKSPACES = Path(__file__).resolve().parents[2] / "fixtures" / "workspaces"
BASIC_SPEC = "spec-core-001-authentication"
LAB_SPEC = "spec-lab-001-every-status"
# A fixed clock for modification times: files at T0, reports later (or earlier when stale).
T0 = 1_700_000_000


def copy_fixture(name: str, target: Path) -> Path:
    # symlinks=True keeps the fixture's symlinks as symlinks (one of them must escape).
    shutil.copytree(WORKSPACES / name, target, symlinks=True)
    return target


def set_mtime(path: Path, seconds: float) -> None:
    os.utime(path, (seconds, seconds), follow_symlinks=False)


def age_everything(root: Path, seconds: float = T0) -> None:
    for path in root.rglob("*"):
        set_mtime(path, seconds)


@pytest.fixture
def copy_workspace(tmp_path: Path) -> Callable[[str], Path]:
    def copy(name: str) -> Path:
        return copy_fixture(name, tmp_path / name)

    return copy


@pytest.fixture
def basic_root(copy_workspace: Callable[[str], Path]) -> Path:
    return copy_workspace("basic")


@pytest.fixture
def basic_ws(basic_root: Path) -> Workspace:
    return Workspace(basic_root)


@pytest.fixture
def lab_root(copy_workspace: Callable[[str], Path]) -> Path:
    return copy_workspace("every-status")


@pytest.fixture
def lab_ws(lab_root: Path) -> Workspace:
    return Workspace(lab_root, max_file_bytes=4096)


@pytest.fixture
def layout_ws(copy_workspace: Callable[[str], Path]) -> Workspace:
    return Workspace(copy_workspace("layout"))


@pytest.fixture
def quality_ws(copy_workspace: Callable[[str], Path]) -> Workspace:
    return Workspace(copy_workspace("quality"))


@pytest.fixture
def routing_root(copy_workspace: Callable[[str], Path]) -> Path:
    """The routing fixture with the modification times its README asks for."""
    root = copy_workspace("routing")
    age_everything(root, T0)
    for summary in (root / ".spec" / "reports").rglob("summary.json"):
        set_mtime(summary, T0 + 100)
    set_mtime(root / ".spec/reports/verify-tasks-progress/verify-07/summary.json", T0 - 100)
    return root


@pytest.fixture
def routing_ws(routing_root: Path) -> Workspace:
    return Workspace(routing_root)
