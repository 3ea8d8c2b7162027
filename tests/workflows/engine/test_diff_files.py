"""What a commit changed, as the run page and the changes API read it
(workflows.engine.git_changes.diff_files): each file with its own diff, read from one
`git diff` per commit, and the same as git says file by file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.git_repos import sh
from workflows.engine import git_changes, git_runs

pytestmark = pytest.mark.django_db  # git_runs.git reads the data directory from the settings


def two_commits(repo: Path) -> tuple[str, str]:
    """A commit that modifies, adds, deletes, renames and adds a binary file, with a path
    that git quotes and a line in a file that reads like a diff's own heading."""
    repo.mkdir()
    sh("init", "--quiet", "--initial-branch=main", cwd=repo)
    (repo / "keep.py").write_text("A = 1\n")
    (repo / "gone.txt").write_text("bye\n")
    (repo / "old_name.md").write_text("".join(f"line {n}\n" for n in range(20)))
    sh("add", "--all", cwd=repo)
    sh("commit", "--quiet", "-m", "before", cwd=repo)
    (repo / "keep.py").write_text("A = 2\ndiff --git a/x b/x\n")
    (repo / "gone.txt").unlink()
    (repo / "old_name.md").rename(repo / "new name.md")
    (repo / "logo.bin").write_bytes(b"\x00\x01\x02")
    (repo / "ünï.txt").write_text("hello\n")
    sh("add", "--all", cwd=repo)
    sh("commit", "--quiet", "-m", "after", cwd=repo)
    old, new = sh("rev-parse", "HEAD^", "HEAD", cwd=repo).split()
    return old, new


def test_each_file_gets_its_own_diff_the_same_as_asking_git_for_it_alone(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    old, new = two_commits(repo)
    files = {f["path"]: f for f in git_changes.diff_files(repo, old, new)}
    assert {p: f["status"] for p, f in files.items()} == {
        "gone.txt": "deleted",
        "keep.py": "modified",
        "logo.bin": "added",
        "new name.md": "renamed",
        "ünï.txt": "added",
    }
    assert files["new name.md"]["old_path"] == "old_name.md"
    assert files["logo.bin"]["binary"] and files["logo.bin"]["diff"] == ""
    for path, entry in files.items():
        if entry["binary"]:
            continue
        paths = [p for p in (entry["old_path"], path) if p]
        alone = git_runs.git(["diff", "-M", old, new, "--", *paths], cwd=repo)
        assert entry["diff"] == alone, path
    assert "+diff --git a/x b/x" in files["keep.py"]["diff"]  # a line of the file, not a new file
    assert (files["keep.py"]["additions"], files["keep.py"]["deletions"]) == (2, 1)


def test_without_diffs_the_files_are_named_and_counted(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    old, new = two_commits(repo)
    full = git_changes.diff_files(repo, old, new)
    named = git_changes.diff_files(repo, old, new, diffs=False)
    assert [f["diff"] for f in named] == [""] * len(full)
    strip = [{k: v for k, v in f.items() if k != "diff"} for f in full]
    assert [{k: v for k, v in f.items() if k != "diff"} for f in named] == strip


def test_past_the_file_limit_the_files_shown_keep_their_own_diffs(tmp_path: Path, monkeypatch) -> None:
    repo = tmp_path / "repo"
    old, new = two_commits(repo)
    monkeypatch.setattr(git_changes, "MAX_FILES", 3)
    files = git_changes.diff_files(repo, old, new)
    assert [f["path"] for f in files] == ["gone.txt", "keep.py", "logo.bin"]
    assert files[0]["diff"].startswith("diff --git a/gone.txt b/gone.txt")
    assert files[1]["diff"].startswith("diff --git a/keep.py b/keep.py")
