"""Benchmark what git adds to an agent step: the run's worktree and the step's commit.

    .venv/bin/python bench/bench_git.py [--files 2000] [--runs 10] [--steps 6] [--changed 5]

Builds a repository in a temporary directory (`--files` source and docs files under
folders of 100, one commit), then, side by side in one run:

- **without git**: each "agent step" writes `--changed` files into a plain copy of the
  workspace (what a step of a project without git costs in file writes);
- **with git**: each run makes its branch and worktree (`git_runs.run_worktree`'s commands),
  each step writes the same files in the worktree and commits them (`git_runs.commit_step`),
  and the run's worktree is removed at the end (`git_runs.remove_run_worktree`'s commands).

It prints the medians per run (worktree add, remove) and per step (write, commit), and
the overhead per agent step: commit + (worktree add + remove) / steps per run. Then the
same with 10x the files, to show how it grows with the repository. The git commands are
the ones the engine runs (`workflows.engine.git_runs.git`: the real binary, argument
lists, no config, no hooks).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scratch import machine_with_git  # noqa: E402


def setup_django(data_dir: Path) -> None:
    """Django on a throwaway data directory, its database made: the engine's git code checks
    a project's workspace (below `<data dir>/workspaces`) against the others."""
    os.environ["SMARTSPEC_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartspec.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def build_repo(root: Path, files: int) -> None:
    from workflows.engine.git_runs import git

    root.mkdir(parents=True)
    for i in range(files):
        folder = root / "src" / f"pkg{i // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        body = "".join(f"def func_{i}_{j}(value):\n    return value + {j}\n\n" for j in range(8))
        (folder / f"module_{i}.py").write_text(f'"""Module {i}."""\n\n{body}')
    (root / "specs" / "feature" / "spec-feature-001-search").mkdir(parents=True)
    (root / "specs" / "feature" / "spec-feature-001-search" / "tasks.md").write_text(
        "# Tasks\n\n" + "".join(f"- [ ] TSK-{i:03d} Task {i}\n" for i in range(24))
    )
    git(["init", "--quiet", "--initial-branch=main"], cwd=root)
    git(["add", "--all"], cwd=root)
    git(["commit", "--quiet", "--no-verify", "-m", "base"], cwd=root)


def write_step(root: Path, run: int, step: int, changed: int) -> None:
    """What an agent step leaves behind: a few files changed or added."""
    for k in range(changed):
        path = root / "src" / f"pkg{k}" / f"module_{k * 100}.py"
        path.write_text(path.read_text() + f"\n# run {run} step {step}\n")
    (root / "src" / f"new_{run}_{step}.py").write_text(f"VALUE = {run * 100 + step}\n")


def timed(write: Callable[[Path, int, int, int], None], *args: Any) -> float:
    start = time.perf_counter()
    write(*args)
    return time.perf_counter() - start


def measure(base: Path, work: Path, runs: int, steps: int, changed: int) -> dict[str, list[float]]:
    from workflows.engine.git_runs import commit_step, git
    from workflows.models import Project, Run

    figures: dict[str, list[float]] = {k: [] for k in ("plain", "write", "commit", "add", "remove")}
    plain = work / "plain"
    shutil.copytree(base, plain, ignore=shutil.ignore_patterns(".git"))
    head = git(["rev-parse", "HEAD"], cwd=base).strip()
    for run_id in range(1, runs + 1):
        for step in range(steps):
            figures["plain"].append(timed(write_step, plain, run_id, step, changed))
        project = Project(workspace=str(base))
        run = Run(
            pk=run_id,
            project=project,
            spec_id="spec-feature-001-search",
            git_branch=f"smartspec/run-{run_id}",
        )
        tree = work / f"run-{run_id}"
        figures["add"].append(_worktree_add(base, tree, run.git_branch, head))
        for step in range(steps):
            figures["write"].append(timed(write_step, tree, run_id, step, changed))
            start = time.perf_counter()
            done = commit_step(run, tree, step_key=f"implement-{step}", tasks=["TSK-001"])
            figures["commit"].append(time.perf_counter() - start)
            assert done is not None, "the step changed files, so it must commit"
        start = time.perf_counter()
        git(["worktree", "remove", "--force", str(tree)], cwd=base)
        git(["worktree", "prune"], cwd=base)
        figures["remove"].append(time.perf_counter() - start)
    return figures


def _worktree_add(repo: Path, tree: Path, branch: str, head: str) -> float:
    """run_worktree's commands for a new run: prune, look the branch up, add the worktree."""
    from workflows.engine.git_runs import git

    start = time.perf_counter()
    git(["rev-parse", "--verify", f"{head}^{{commit}}"], cwd=repo)
    git(["worktree", "prune"], cwd=repo)
    git(["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=repo, check=False)
    git(["worktree", "add", "-b", branch, str(tree), head], cwd=repo)
    return time.perf_counter() - start


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms"


def report(files: int, steps: int, figures: dict[str, list[float]]) -> None:
    per_step = (
        statistics.median(figures["commit"])
        + (statistics.median(figures["add"]) + statistics.median(figures["remove"])) / steps
    )
    print(f"\n{files:,} files in the repository ({len(figures['add'])} runs of {steps} steps)")
    print(f"  step's writes, no git        {ms(figures['plain'])}")
    print(f"  step's writes, in worktree   {ms(figures['write'])}")
    print(f"  commit per step              {ms(figures['commit'])}")
    print(f"  worktree add per run         {ms(figures['add'])}")
    print(f"  worktree remove per run      {ms(figures['remove'])}")
    print(f"  overhead per agent step      {per_step * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--changed", type=int, default=5)
    options = parser.parse_args()
    print(machine_with_git())
    with tempfile.TemporaryDirectory(prefix="bench-git-") as scratch:
        setup_django(Path(scratch) / "data")
        for files in (options.files, options.files * 10):
            base = Path(scratch) / "data" / "workspaces" / f"repo-{files}"
            build_repo(base, files)
            work = Path(scratch) / f"work-{files}"
            work.mkdir()
            figures = measure(base, work, options.runs, options.steps, options.changed)
            report(files, options.steps, figures)


if __name__ == "__main__":
    main()
