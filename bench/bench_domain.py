"""Benchmark the SmartSpec domain: verification of a big tasks.md and status of many specs.

    .venv/bin/python bench/bench_domain.py [--files 10000] [--tasks 2000] [--specs 500]
                                           [--format-specs 250] [--format-tasks 24]

Builds a workspace in a temporary directory (10,000 source and docs files, a tasks.md of
2,000 tasks with 4,000 hooks mixing symbol, contains, regex and heading checks, and 500
more specs), then prints how long verification and a cold and a warm status take.
Then, side by side, 250 specs of 24 tasks (6,000 task lines) written as SmartSpec with
hooks and as spec-kit with file paths read as implicit evidence, under the same files.
Aims: verification under 2 s, warm status of 500 specs under 1 s, warm status of the
250 specs under 1 s in every format.
"""

from __future__ import annotations

import argparse
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workflows.domain.spec_formats import ReadOptions  # noqa: E402
from workflows.domain.status import StatusCache  # noqa: E402
from workflows.domain.tasks_parser import parse_tasks  # noqa: E402
from workflows.domain.verification import FileCache, verify_document  # noqa: E402
from workflows.domain.workspace import Workspace  # noqa: E402

VERIFY_AIM_S = 2.0
WARM_STATUS_AIM_S = 1.0
T = TypeVar("T")


def python_file(i: int) -> str:
    body = [f'"""Module {i}."""', "", f"LIMIT_{i}: int = {i}", f"NAME_{i} = 'module-{i}'", ""]
    for j in range(6):
        body += [f"def func_{i}_{j}(value):", f"    total = value + {j}", "    return total", ""]
    body += [
        f"class Model{i}:",
        f"    table = 'model_{i}'",
        "",
        "    def save(self):",
        "        pass",
    ]
    return "\n".join(body) + "\n"


def ts_file(i: int) -> str:
    return (
        f"// Component {i}\nexport interface Props{i} {{ id: number }}\n"
        f"export function render{i}(props: Props{i}): string {{\n"
        "  return `item ${props.id}`;\n}\n"
        f"const helper{i} = () => {i};\nexport {{ helper{i} as publicHelper{i} }};\n"
    )


def md_file(i: int) -> str:
    sections = "\n".join(f"## Section {i}.{j}\n\nText about topic {j}.\n" for j in range(5))
    return f"# Document {i}\n\n{sections}"


def build_files(root: Path, count: int) -> list[tuple[str, str, int]]:
    """Write `count` files, 100 per folder; returns (path, kind, number) for each."""
    made = []
    for i in range(count):
        kind = ("py", "ts", "md")[i % 3]
        rel = f"{'docs' if kind == 'md' else 'src'}/pkg{i // 100:03d}/file_{i}.{kind}"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text({"py": python_file, "ts": ts_file, "md": md_file}[kind](i))
        made.append((rel, kind, i))
    return made


def hook_for(rng: random.Random, files: list[tuple[str, str, int]]) -> str:
    rel, kind, i = rng.choice(files)
    hit = rng.random() < 0.8  # most hooks hold, some do not
    if kind == "md":
        heading = f"Section {i}.{rng.randrange(5)}" if hit else "Missing section"
        return f'evidence: docs path={rel} heading="{heading}"'
    pick = rng.randrange(3)
    if pick == 0:
        name = (f"func_{i}_{rng.randrange(6)}" if kind == "py" else f"render{i}") if hit else "nope"
        return f"evidence: code path={rel} symbol={name}"
    if pick == 1:
        needle = (f"LIMIT_{i}" if kind == "py" else f"helper{i}") if hit else "absent text"
        return f'evidence: code path={rel} contains="{needle}"'
    pattern = r"return\s+total" if hit else r"yield\s+\d+"
    return f'evidence: code path={rel} regex="{pattern}"'


def build_tasks(rng: random.Random, files: list[tuple[str, str, int]], tasks: int) -> str:
    lines = ["# Tasks: spec-bench-000-big", ""]
    for t in range(tasks):
        if t % 100 == 0:
            lines += [f"### Phase {t // 100 + 1}: Batch", ""]
        box = "x" if rng.random() < 0.7 else " "
        lines += [f"- [{box}] T{t:05d} Task number {t}", f"  {hook_for(rng, files)}"]
        lines += [f"  - {hook_for(rng, files)}", ""]
    return "\n".join(lines)


def build_specs(root: Path, rng: random.Random, files: list[tuple[str, str, int]], specs: int) -> None:
    for s in range(specs):
        folder = root / "specs" / f"cat{s % 10}" / f"spec-bulk-{s:04d}-feature"
        folder.mkdir(parents=True)
        (folder / "spec.md").write_text(f"# Spec {s}\n")
        (folder / "plan.md").write_text(f"# Plan {s}\n")
        body = [f"- [x] B{s}-{t} Task\n  {hook_for(rng, files)}\n" for t in range(5)]
        (folder / "tasks.md").write_text("".join(body))


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def cpu_timed(fn: Callable[[], T]) -> tuple[float, float, T]:
    """Wall and CPU seconds: on a busy machine CPU time shows the code's own cost."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def bench_verification(root: Path, text: str, repeat: int) -> None:
    ws = Workspace(root)
    parse_s, document = timed(lambda: parse_tasks(text))
    hooks = sum(len(t.hooks) for t in document.tasks)
    runs, cpus = [], []
    for _ in range(repeat):
        files = FileCache(ws)

        def verify(files: FileCache = files) -> object:
            return verify_document(ws, parse_tasks(text), spec_id="spec-bench-000-big", files=files)

        seconds, cpu, report = cpu_timed(verify)
        runs.append(seconds)
        cpus.append(cpu)
    print(f"tasks.md: {len(document.tasks)} tasks, {hooks} hooks, parse alone {parse_s * 1000:.0f} ms")
    print(
        f"verification (parse + verify, fresh file cache each run): first {runs[0] * 1000:.0f} ms, "
        f"best {min(runs) * 1000:.0f} ms, median {statistics.median(runs) * 1000:.0f} ms "
        f"over {repeat} runs (CPU best {min(cpus) * 1000:.0f} ms); "
        f"{files.disk_reads} distinct files read, each once; "
        f"{report.verified} tasks verified"  # type: ignore[attr-defined]
    )
    verdict = "meets" if max(runs) < VERIFY_AIM_S else "MISSES"
    print(f"  -> {verdict} the aim of < {VERIFY_AIM_S:.0f} s (worst run {max(runs) * 1000:.0f} ms)")


def bench_status(root: Path, specs: int, repeat: int) -> None:
    cache = StatusCache(Workspace(root))
    cold_s, cold_cpu, statuses = cpu_timed(cache.all)
    warm_runs = [cpu_timed(cache.all) for _ in range(repeat)]
    warm = [wall for wall, _, _ in warm_runs]
    warm_cpu = min(cpu for _, cpu, _ in warm_runs)
    print(
        f"status of {len(statuses)} specs: cold {cold_s * 1000:.0f} ms "
        f"(CPU {cold_cpu * 1000:.0f} ms); warm best {min(warm) * 1000:.1f} ms, "
        f"median {statistics.median(warm) * 1000:.1f} ms, "
        f"worst {max(warm) * 1000:.1f} ms (CPU best {warm_cpu * 1000:.1f} ms); "
        f"cache {cache.stats()}"
    )
    verdict = "meets" if max(warm) < WARM_STATUS_AIM_S else "MISSES"
    print(f"  -> {verdict} the aim of < {WARM_STATUS_AIM_S:.0f} s warm")


def build_format_workspaces(
    base: Path,
    source: Path,
    rng: random.Random,
    files: list[tuple[str, str, int]],
    specs: int,
    tasks: int,
) -> dict[str, Path]:
    """The same work written twice: SmartSpec specs whose tasks carry hooks, and spec-kit
    specs (.specify/, NNN-name folders, [P]/[USn] markers) whose tasks only name files."""
    roots = {"smartspec (hooks)": base / "smartspec", "spec-kit (implicit)": base / "spec-kit"}
    (roots["spec-kit (implicit)"] / ".specify").mkdir(parents=True)
    for s in range(specs):
        picked = [rng.choice(files) for _ in range(tasks)]
        hooked = ["## Phase 1: Work\n"]
        named = ["## Phase 3: User Story 1 - Work (Priority: P1)\n"]
        for t, (rel, _, _) in enumerate(picked):
            hooked.append(f"- [x] T{t:03d} Task {t}\n  evidence: code path={rel}\n")
            named.append(f"- [x] T{t:03d} [P] [US1] Task {t} in {rel}\n")
        for root in roots.values():  # the named files, inside each workspace (no symlinks out)
            for rel, _, _ in picked:
                if not (root / rel).exists():
                    (root / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source / rel, root / rel)
        for name, lines, folder in (
            ("smartspec (hooks)", hooked, f"specs/cat{s % 10}/spec-bulk-{s:04d}"),
            ("spec-kit (implicit)", named, f"specs/{s:03d}-feature-{s}"),
        ):
            spec = roots[name] / folder
            spec.mkdir(parents=True)
            (spec / "spec.md").write_text(f"# Spec {s}\n")
            (spec / "plan.md").write_text(f"# Plan {s}\n")
            (spec / "tasks.md").write_text("".join(lines))
    return roots


def bench_formats(roots: dict[str, Path], repeat: int) -> None:
    print("side by side, the same specs in two formats:")
    for name, root in roots.items():
        cache = StatusCache(Workspace(root, options=ReadOptions()))
        cold_s, _, statuses = cpu_timed(cache.all)
        warm = [cpu_timed(cache.all)[0] for _ in range(repeat)]
        lines = sum(s.tasks_total for s in statuses)
        verified = sum(s.tasks_verified for s in statuses)
        formats = sorted({s.format for s in statuses})
        verdict = "meets" if max(warm) < WARM_STATUS_AIM_S else "MISSES"
        print(
            f"  {name}: {len(statuses)} specs, {lines} task lines ({verified} verified), read as "
            f"{', '.join(formats)}: cold {cold_s * 1000:.0f} ms; warm best {min(warm) * 1000:.1f} ms, "
            f"worst {max(warm) * 1000:.1f} ms -> {verdict} the aim of < {WARM_STATUS_AIM_S:.0f} s warm"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=2_000)
    parser.add_argument("--specs", type=int, default=500)
    parser.add_argument("--format-specs", type=int, default=250)
    parser.add_argument("--format-tasks", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)  # noqa: S311 - repeatable benchmark data, not secrets
    print(f"SmartSpec domain benchmark: Python {platform.python_version()}, {platform.platform()}")
    with tempfile.TemporaryDirectory(prefix="bench-domain-") as tmp:
        root = Path(tmp)
        build_s, files = timed(lambda: build_files(root, args.files))
        text = build_tasks(rng, files, args.tasks)
        build_specs(root, rng, files, args.specs)
        print(f"workspace: {len(files)} files written in {build_s:.1f} s")
        bench_verification(root, text, args.repeat)
        bench_status(root, args.specs, args.repeat)
        with tempfile.TemporaryDirectory(prefix="bench-formats-") as formats:
            made = build_format_workspaces(
                Path(formats), root, rng, files, args.format_specs, args.format_tasks
            )
            bench_formats(made, args.repeat)


if __name__ == "__main__":
    main()
