"""What changed on git, read for the pages and the API: a commit's files with their diffs,
a run's changes per step and in all, blobs' texts, and the workspace's uncommitted files.

Everything here reads; the branches, worktrees and commits it reads are made by
workflows.engine.git_runs, with whose `git` it runs.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflows.engine.git_runs import GitError, base_branch, git, git_mode, run_git
from workflows.workspace_policy import WorkspaceNotAllowed, project_workspace_dir

if TYPE_CHECKING:
    from workflows.models import Project, Run

DIFF_MAX_BYTES = 100_000  # a file's diff longer than this is cut, and says so
MAX_FILES = 500

FILE_CHANGES = ("added", "modified", "deleted", "renamed")  # what happened to a changed file
STATUS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "added", "T": "modified"}


def diff_files(repo: Path, old: str, new: str, *, diffs: bool = True) -> list[dict[str, Any]]:
    """The files changed between two commits, each with its unified diff (without `diffs`:
    named and counted only, their `diff` empty). Three git calls, however many files."""
    names = git(["diff", "-M", "--name-status", "-z", old, new], cwd=repo).split("\0")
    counts = git(["diff", "-M", "--numstat", "-z", old, new], cwd=repo).split("\0")
    files: list[dict[str, Any]] = []
    index = 0
    while index < len(names) and names[index]:
        code = names[index][0]
        if code in "RC":
            old_path, path = names[index + 1], names[index + 2]
            index += 3
        else:
            old_path = path = names[index + 1]
            index += 2
        files.append(
            {
                "path": path,
                "old_path": old_path if old_path != path else "",
                "status": STATUS.get(code, "modified"),
            }
        )
    stats = _numstat(counts)
    limited, files = len(files) > MAX_FILES, files[:MAX_FILES]
    for entry in files:
        added, deleted = stats.get(entry["path"], (None, None))
        entry["binary"] = added is None
        entry["additions"], entry["deletions"] = added or 0, deleted or 0
        entry["diff"], entry["truncated"] = "", False
    if diffs and files:
        for entry, text in zip(files, _patches(repo, old, new, files, limited=limited), strict=True):
            if not entry["binary"]:
                cut = len(text) > DIFF_MAX_BYTES
                entry["diff"], entry["truncated"] = (text[:DIFF_MAX_BYTES] if cut else text), cut
    return files


def _patches(repo: Path, old: str, new: str, files: list[dict[str, Any]], *, limited: bool) -> list[str]:
    """Each file's unified diff, in the order of `files` (git lists them in the same order
    for the same options): one `git diff` cut at its `diff --git` lines. With more files
    than shown (`limited`), the shown ones (and their old names) are asked for by path."""
    limit = ["--", *(p for f in files for p in _paths_of(f))] if limited else []
    text = git(["diff", "-M", old, new, *limit], cwd=repo)
    starts = [m.start() for m in re.finditer(r"^diff --git ", text, flags=re.MULTILINE)]
    if len(starts) != len(files):  # never seen; asking per file is slower but sure
        return [git(["diff", "-M", old, new, "--", *_paths_of(f)], cwd=repo) for f in files]
    return [text[start:end] for start, end in zip(starts, [*starts[1:], len(text)], strict=True)]


def _paths_of(entry: dict[str, Any]) -> list[str]:
    return [entry["old_path"], entry["path"]] if entry["old_path"] else [entry["path"]]


def _numstat(fields: list[str]) -> dict[str, tuple[int | None, int | None]]:
    """`--numstat -z`: 'A\\tD\\tpath' or, for a rename, 'A\\tD\\t' then old and new paths."""
    found: dict[str, tuple[int | None, int | None]] = {}
    index = 0
    while index < len(fields) and fields[index]:
        added, deleted, path = fields[index].split("\t", 2)
        index += 1
        if not path:
            path = fields[index + 1]
            index += 2
        found[path] = (None, None) if added == "-" else (int(added), int(deleted))
    return found


WHOLE_RUN = ""  # in run_changes(with_diffs=…): the whole run's diff


def run_changes(
    run: Run, step_key: str | None = None, *, with_diffs: Container[str] | None = None
) -> dict[str, Any]:
    """What the run changed: per step that committed (its commit and parent), and for the
    whole run. Every file comes with its diff, or with `with_diffs` only those of the steps
    it names (by key) and of the whole run when it holds WHOLE_RUN: the others are named
    and counted, their `diff` empty (the run page shows one diff at a time)."""
    result: dict[str, Any] = {"git": bool(run.git_branch), "branch": run.git_branch, "base": run.git_base}
    result["base_branch"] = run.git_base_branch
    result.update(head="", files=[], steps=[])
    if not run.git_branch:
        return result
    repo = project_workspace_dir(run.project)
    steps = run.steps.filter(output__has_key="git").order_by("id")
    if step_key is not None:
        steps = steps.filter(key=step_key)
    for step in steps:
        info = step.output.get("git") or {}
        if not info.get("commit"):
            continue
        parent = info.get("parent") or run.git_base
        diffs = with_diffs is None or step.key in with_diffs
        result["steps"].append(
            {
                "key": step.key,
                "commit": info["commit"],
                "parent": parent,
                "files": diff_files(repo, parent, info["commit"], diffs=diffs),
            }
        )
    head = git(
        ["rev-parse", "--verify", "--quiet", f"refs/heads/{run.git_branch}"], cwd=repo, check=False
    ).strip()
    result["head"] = head
    if head and step_key is None:
        whole = with_diffs is None or WHOLE_RUN in with_diffs
        result["files"] = diff_files(repo, run.git_base, head, diffs=whole)
    return result


def read_blobs(repo: Path, ids: Sequence[str], *, max_bytes: int) -> dict[str, str]:
    """The text of each blob named (by its id, even shortened) that is at most `max_bytes`
    long, by the id asked for; the others (too big, missing, not a blob) are left out. Two
    git calls however many blobs: `cat-file --batch-check` for the sizes, `--batch` for the
    contents of the ones kept."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    sizes = run_git(["cat-file", "--batch-check"], cwd=repo, stdin="".join(f"{i}\n" for i in wanted).encode())
    kept = []
    for asked, line in zip(wanted, sizes.stdout.decode(errors="replace").splitlines(), strict=False):
        fields = line.split()
        if len(fields) == 3 and fields[1] == "blob" and int(fields[2]) <= max_bytes:
            kept.append((asked, fields[0]))
    if not kept:
        return {}
    out = run_git(["cat-file", "--batch"], cwd=repo, stdin="".join(f"{full}\n" for _, full in kept).encode())
    texts: dict[str, str] = {}
    data, at = out.stdout, 0
    for asked, _full in kept:
        end = data.find(b"\n", at)
        header = data[at:end].split()
        if end < 0 or len(header) != 3:
            break
        size = int(header[2])
        texts[asked] = data[end + 1 : end + 1 + size].decode(errors="replace")
        at = end + 1 + size + 1  # the content, then a newline
    return texts


def status_entries(repo: Path, paths: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(two-letter code, path) of each file `git status` lists in `repo` (below `paths`,
    when given): changed, staged, deleted, and untracked (`??`), ignored ones not listed.
    Reads only (no optional locks: not even the index's stat cache is refreshed)."""
    pathspec = ["--", *paths] if paths else []
    out = git(
        ["--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all", *pathspec],
        cwd=repo,
    )
    fields = out.split("\0")
    found: list[tuple[str, str]] = []
    index = 0
    while index < len(fields) and fields[index]:
        entry = fields[index]
        index += 2 if {"R", "C"} & set(entry[:2]) else 1  # a rename is followed by its old path
        found.append((entry[:2], entry[3:]))
    return found


def uncommitted(project: Project, paths: Sequence[str] = ()) -> dict[str, Any] | None:
    """The files of a git project's workspace (below `paths`, when given) that differ from
    its last commit, which a run never sees (it starts from the base branch's last commit):
    `listed` (the first 5, with "…" when there are more), `count`, `base` (the branch runs
    start from). None when there are none, or the workspace is no git repository a run
    branches from."""
    try:
        repo = project_workspace_dir(project)
        if git_mode(repo) != "branch":
            return None
        files = [path for _code, path in status_entries(repo, paths)]
        if not files:
            return None
        listed = ", ".join(files[:5]) + (", …" if len(files) > 5 else "")
        return {"listed": listed, "count": len(files), "base": base_branch(project, repo)}
    except (GitError, WorkspaceNotAllowed):
        return None
