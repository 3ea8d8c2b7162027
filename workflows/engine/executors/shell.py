"""The `shell` step: one allowed program, run without a shell, in the workspace.

The rules of what a step may run live in workflows/domain/shell_policy.py; the process
runs confined by bubblewrap where STEP_SANDBOX allows (sandbox.py)."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from workflows.domain.shell_policy import (
    CommandRefused,
    check_arguments,
    check_program_rules,
    env_problem,
    parse_command,
    report_name_problem,
)
from workflows.engine import git_runs
from workflows.engine.executors.base import StepContext, StepResult
from workflows.engine.executors.sandbox import SandboxUnavailable, step_sandbox
from workflows.workspace_policy import project_workspace_dir

KILL_GRACE_SECONDS = 1.0
PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.05
MAX_OUTPUT_LINES_KEPT = 200

__all__ = ["CommandRefused", "parse_command", "process_env", "run_process", "run_shell"]


def working_directory(context: StepContext, relative: str) -> Path:
    workspace = context.workspace.resolve()
    target = (workspace / relative).resolve() if relative else workspace
    if not target.is_relative_to(workspace):
        raise CommandRefused(f"cwd {relative!r} is outside the workspace")
    if not target.is_dir():
        raise CommandRefused(f"cwd {relative!r} is not a directory in the workspace")
    return target


def run_shell(context: StepContext) -> StepResult:
    config = context.config
    report = str(config["report"]) if config.get("report") else ""
    # Where the command may write junit.xml or coverage.json for the quality gate.
    report_dir = str(context.workspace / ".spec" / "reports" / report / str(context.run_id)) if report else ""
    try:
        argv, cwd = checked_command(context, report, report_dir)
    except CommandRefused as exc:
        return StepResult.fail(str(exc))
    if report_dir:
        Path(report_dir).mkdir(parents=True, exist_ok=True)
    extra = {k: context.substitute(str(v)) for k, v in config.get("env", {}).items()}
    result = run_process(context, argv, cwd=cwd, env=process_env(context, extra))
    if report:
        write_command_report(context, report, result)
    return result


def checked_command(context: StepContext, report: str, report_dir: str) -> tuple[list[str], Path]:
    """The command's argv and directory, after every rule of shell_policy; CommandRefused
    says which one a step broke. Nothing has run or been written yet."""
    config = context.config
    if report and (problem := report_name_problem(report)):
        raise CommandRefused(problem)
    if problem := env_problem(config.get("env", {})):
        raise CommandRefused(problem)
    # Split the template's command first, then fill in each argument: a param or an item
    # is one argument, however many spaces or quotes it holds.
    argv = parse_command(
        str(config["command"]), context.project.shell_allowlist, substitution_values(context, report_dir)
    )
    cwd = working_directory(context, config.get("cwd", ""))
    check_program_rules(argv)  # first: its messages say more than "outside the workspace"
    check_arguments(argv, workspace=str(context.workspace), cwd=str(cwd))
    return argv, cwd


def substitution_values(context: StepContext, report_dir: str) -> dict[str, object]:
    """What ${{ name }} stands for in a command (as StepContext.substitute)."""
    values: dict[str, object] = {
        "item": context.item,
        "spec_id": context.spec_id,
        "run_id": context.run_id,
        "report_dir": report_dir,
    }
    values.update({f"params.{k}": v for k, v in context.params.items()})
    return values


# What a step's process inherits from the worker: enough to run programs, and none of the
# app's own settings or secrets (SECRET_KEY, DATABASE_URL, …) that the worker holds.
INHERITED_ENV = ("HOME", "LANG", "LANGUAGE", "TERM", "TMPDIR", "TZ", "USER", "LOGNAME", "SHELL")


def process_env(context: StepContext, extra: dict[str, str]) -> dict[str, str]:
    """The environment of a step's process, with the app's own Python first on PATH (so
    `python` and `pytest` are the ones installed with the app)."""
    env = {k: v for k, v in os.environ.items() if k in INHERITED_ENV or k.startswith("LC_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    key_name = context.project.agent_api_key_env
    if key_name and key_name in os.environ:
        env[key_name] = os.environ[key_name]
    env.update(extra)
    env.update(SMARTSPEC_RUN_ID=str(context.run_id), SMARTSPEC_SPEC_ID=context.spec_id)
    return env


def write_command_report(context: StepContext, name: str, result: StepResult) -> None:
    """summary.json + report.md under .spec/reports/<name>/<run-id>/ (test runs use this)."""
    workspace = context.spec_workspace()
    folder = f".spec/reports/{name}/{context.run_id}"
    command: list[str] = result.output.get("command") or []
    summary = {
        "workflow": name,
        "run_id": str(context.run_id),
        "spec_id": context.spec_id,
        "passed": result.status == "succeeded",
        "exit_code": result.output.get("exit_code"),
        "command": command or None,
        "error": result.error,
    }
    workspace.write_text(f"{folder}/summary.json", json.dumps(summary, indent=2) + "\n")
    tail = "\n".join(result.output.get("output_tail", []))
    verdict = "passed" if summary["passed"] else "failed"
    workspace.write_text(
        f"{folder}/report.md",
        f"# {name}: {verdict}\n\nCommand: `{' '.join(command)}`\n\n"
        f"Exit code: {summary['exit_code']}\n\n```\n{tail}\n```\n",
    )
    result.output["report"] = folder


def run_process(
    context: StepContext,
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    stdin: bytes | None = None,
    read_only: Sequence[tuple[str, str]] = (),
    on_line: Callable[[str], None] | None = None,
) -> StepResult:
    """Run argv in its own process group (inside the step sandbox when there is one),
    stream its output as log lines, and kill the whole group when the step is cancelled or
    times out. Exit code 0 means success. `read_only` adds (source, place) pairs the
    sandbox binds read-only; `on_line` sees each output line too."""
    try:
        launch, launch_env = sandboxed(context, argv, cwd=cwd, env=env, read_only=read_only)
    except (SandboxUnavailable, CannotStart) as exc:
        return StepResult.fail(str(exc))
    try:
        process = subprocess.Popen(
            launch,
            cwd=cwd,
            env=launch_env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # A new session: the group the engine kills on cancel or timeout, and no
            # controlling terminal a step could type into (bwrap then needs no
            # --new-session, which would take its processes out of this group).
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    except OSError as exc:
        return StepResult.fail(f"could not start {argv[0]}: {exc.strerror or exc}")
    tail: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(process, context, tail, on_line), daemon=True)
    reader.start()
    if stdin:
        _feed(process, stdin)
    stopped = _wait(process, context)
    reader.join(timeout=5)
    if process.stdout is not None:
        process.stdout.close()
    output = {"exit_code": process.returncode, "output_tail": tail[-20:], "command": argv}
    if stopped:
        return StepResult.fail(context.stop_reason, **output)
    if process.returncode != 0:
        return StepResult.fail(f"{argv[0]} exited with status {process.returncode}", **output)
    return StepResult.ok(**output)


class CannotStart(Exception):
    pass


def sandboxed(
    context: StepContext,
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    read_only: Sequence[tuple[str, str]],
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start argv: as is, or inside bwrap."""
    sandbox = step_sandbox()
    if sandbox is None:
        return argv, env
    if shutil.which(argv[0], path=env.get("PATH")) is None:
        raise CannotStart(f"could not start {argv[0]}: No such file or directory")
    git_dirs = None
    if context.worktree is not None:
        git_dirs = git_runs.worktree_git_dirs(project_workspace_dir(context.project), context.worktree)
    command = sandbox.command(
        argv, workspace=context.workspace, cwd=cwd, read_only=read_only, git_dirs=git_dirs
    )
    return command, sandbox.environment(env)


def die_with_parent() -> None:
    """In the child: if the worker is killed (even with SIGKILL), the kernel kills us too, so
    a step's process never outlives its worker and runs on beside the retried attempt."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _feed(process: subprocess.Popen[bytes], data: bytes) -> None:
    assert process.stdin is not None
    try:
        process.stdin.write(data)
        process.stdin.close()
    except BrokenPipeError:
        pass  # the program exited without reading its input; its exit code tells the rest


def _read_lines(
    process: subprocess.Popen[bytes],
    context: StepContext,
    tail: list[str],
    on_line: Callable[[str], None] | None,
) -> None:
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        context.log(line)
        if on_line is not None:
            on_line(line)
        tail.append(line)
        if len(tail) > MAX_OUTPUT_LINES_KEPT:
            del tail[: len(tail) - MAX_OUTPUT_LINES_KEPT]


def _wait(process: subprocess.Popen[bytes], context: StepContext) -> bool:
    """Wait for the process; True when it had to be stopped."""
    while process.poll() is None:
        if context.stop_event.wait(POLL_SECONDS):
            kill_group(process)
            return True
    return context.stop_event.is_set()


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL what is left after a short grace."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + KILL_GRACE_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(POLL_SECONDS)
    with contextlib.suppress(ProcessLookupError):  # the group may be gone already
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
