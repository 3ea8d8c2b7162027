"""Benchmark reading a run's changes: what the run page and `GET /runs/{id}/changes` ask git.

    .venv/bin/python bench/bench_changes.py [--steps 30] [--changed 10] [--repeat 5]

Builds a repository in a temporary directory (bench_git.build_repo, 2,000 files) and a run
branch of `--steps` commits, each changing `--changed` files, then times, side by side in
one run, the two ways of reading a commit's changes:

- **per file** (before): the names and counts (`git diff --name-status`, `--numstat`),
  then one `git diff` per file;
- **per commit** (`git_changes.diff_files`): the names and counts, then one `git diff` for
  every file, cut at its `diff --git` lines; and the names and counts alone
  (`diffs=False`), which is all the run page needs of the steps it does not show.

And what that makes of the run page (every step named and counted, the whole run's diff)
and of the API's answer (every step's diff and the whole run's). Medians of `--repeat`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_git import build_repo, setup_django  # noqa: E402
from scratch import machine_with_git  # noqa: E402


def make_run_branch(repo: Path, steps: int, changed: int) -> list[tuple[str, str]]:
    """A run branch of `steps` commits; (parent, commit) of each."""
    from workflows.engine.git_runs import git

    git(["checkout", "--quiet", "-b", "smartspec/run-1"], cwd=repo)
    commits = []
    for step in range(steps):
        for k in range(changed):
            path = repo / "src" / f"pkg{k}" / f"module_{k * 100 + step % 100}.py"
            path.write_text(path.read_text() + f"\n# step {step}: {'x' * 40}\n")
        git(["add", "--all"], cwd=repo)
        git(["commit", "--quiet", "--no-verify", "-m", f"step {step}"], cwd=repo)
        commits.append(tuple(git(["rev-parse", "HEAD^", "HEAD"], cwd=repo).split()))
    return commits  # type: ignore[return-value]


def per_file(repo: Path, old: str, new: str) -> list[dict[str, Any]]:
    """The way before: names and counts, then a `git diff` per file."""
    from workflows.engine.git_changes import diff_files
    from workflows.engine.git_runs import git

    files = diff_files(repo, old, new, diffs=False)
    for entry in files:
        if not entry["binary"]:
            paths = [entry["old_path"], entry["path"]] if entry["old_path"] else [entry["path"]]
            entry["diff"] = git(["diff", "-M", old, new, "--", *paths], cwd=repo)
    return files


def timed(repeat: int, work: Callable[[], object]) -> float:
    values = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        values.append(time.perf_counter() - start)
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    print(machine_with_git())
    with tempfile.TemporaryDirectory(prefix="bench-changes-") as scratch:
        setup_django(Path(scratch) / "data")
        from workflows.engine.git_changes import diff_files

        repo = Path(scratch) / "repo"
        build_repo(repo, 2000)
        commits = make_run_branch(repo, options.steps, options.changed)
        base, head = commits[0][0], commits[-1][1]
        # Both ways read the same files and the same diffs.
        parent, commit = commits[0]
        assert per_file(repo, parent, commit) == diff_files(repo, parent, commit)

        one_old = timed(options.repeat, lambda: per_file(repo, parent, commit))
        one_new = timed(options.repeat, lambda: diff_files(repo, parent, commit))
        one_named = timed(options.repeat, lambda: diff_files(repo, parent, commit, diffs=False))

        def page_before() -> None:
            for p, c in commits:
                per_file(repo, p, c)
            per_file(repo, base, head)

        def page_now() -> None:
            for p, c in commits:
                diff_files(repo, p, c, diffs=False)
            diff_files(repo, base, head)

        def api_now() -> None:
            for p, c in commits:
                diff_files(repo, p, c)
            diff_files(repo, base, head)

        page_old = timed(options.repeat, page_before)
        page_new = timed(options.repeat, page_now)
        api_new = timed(options.repeat, api_now)

    print(f"\none commit of {options.changed} files")
    print(f"  per file (before)                  {one_old * 1000:8.1f} ms")
    print(f"  per commit (diff_files)            {one_new * 1000:8.1f} ms")
    print(f"  named and counted only             {one_named * 1000:8.1f} ms")
    print(f"\na run of {options.steps} such steps")
    print(f"  run page before (every diff, per file)         {page_old * 1000:8.1f} ms")
    print(f"  run page now (the whole run's diff only)       {page_new * 1000:8.1f} ms")
    print(f"  API, every diff, per commit                    {api_new * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
