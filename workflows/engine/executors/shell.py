"""The `shell` step: one allowed program, run without a shell, in the workspace."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from workflows.engine.executors.base import StepContext, StepResult

KILL_GRACE_SECONDS = 1.0
PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.05
MAX_OUTPUT_LINES_KEPT = 200


class CommandRefused(ValueError):
    pass


def parse_command(command: str, allowlist: list[str]) -> list[str]:
    """Split like a shell would; refuse programs the project does not allow."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise CommandRefused(f"cannot split the command: {exc}") from None
    if not argv:
        raise CommandRefused("the command is empty")
    program = argv[0]
    if "/" in program:
        raise CommandRefused(
            f"'{program}' is a path; name the program only (allowed: {', '.join(allowlist) or 'none'})"
        )
    if program not in allowlist:
        raise CommandRefused(
            f"'{program}' is not in the project's shell allow-list "
            f"(allowed: {', '.join(allowlist) or 'none'})"
        )
    return argv


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
    report_dir = ""
    if config.get("report"):
        # Where the command may write junit.xml or coverage.json for the quality gate.
        report_dir = str(
            context.workspace / ".spec" / "reports" / str(config["report"]) / str(context.run_id)
        )
        Path(report_dir).mkdir(parents=True, exist_ok=True)
    try:
        command = context.substitute(config["command"], report_dir=report_dir)
        argv = parse_command(command, context.project.shell_allowlist)
        cwd = working_directory(context, config.get("cwd", ""))
    except CommandRefused as exc:
        return StepResult.fail(str(exc))
    extra = {k: context.substitute(str(v)) for k, v in config.get("env", {}).items()}
    result = run_process(context, argv, cwd=cwd, env=process_env(context, extra))
    if config.get("report"):
        write_command_report(context, str(config["report"]), result)
    return result


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
    from workflows.domain.workspace import Workspace

    workspace = Workspace(context.workspace)
    folder = f".spec/reports/{name}/{context.run_id}"
    summary = {
        "workflow": name,
        "run_id": str(context.run_id),
        "spec_id": context.spec_id,
        "passed": result.status == "succeeded",
        "exit_code": result.output.get("exit_code"),
        "command": result.output.get("command"),
        "error": result.error,
    }
    workspace.write_text(f"{folder}/summary.json", json.dumps(summary, indent=2) + "\n")
    tail = "\n".join(result.output.get("output_tail", []))
    verdict = "passed" if summary["passed"] else "failed"
    workspace.write_text(
        f"{folder}/report.md",
        f"# {name}: {verdict}\n\nCommand: `{' '.join(summary['command'] or [])}`\n\n"
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
) -> StepResult:
    """Run argv in its own process group, stream its output as log lines, and kill the whole
    group when the step is cancelled or times out. Exit code 0 means success."""
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    except OSError as exc:
        return StepResult.fail(f"could not start {argv[0]}: {exc.strerror or exc}")
    tail: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(process, context, tail), daemon=True)
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


def _read_lines(process: subprocess.Popen[bytes], context: StepContext, tail: list[str]) -> None:
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        context.log(line)
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
