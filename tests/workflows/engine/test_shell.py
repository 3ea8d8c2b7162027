from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.workflows.engine.conftest import drain, start, template
from workflows.engine.executors.shell import CommandRefused, parse_command

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SPAWNER = (
    "python -c \"import os,subprocess,time; c=subprocess.Popen(['sleep','60']); "
    "open('pids','w').write(f'{os.getpid()} {c.pid}'); time.sleep(60)\""
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child not yet reaped by its parent is a zombie: it is not running.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def running_in(workspace: Path) -> list[int]:
    """Live processes whose directory is the workspace. A sandboxed step has its own PID
    namespace, so the pids it writes down are not the worker's; its working directory is."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                here = os.readlink(entry / "cwd")
            except OSError:
                continue  # gone meanwhile
            if here == str(workspace.resolve()) and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def test_it_splits_like_a_shell_and_checks_the_allowlist():
    assert parse_command("echo 'a b' c", ["echo"]) == ["echo", "a b", "c"]
    with pytest.raises(CommandRefused, match="'rm' is not in the project's shell allow-list"):
        parse_command("rm -rf /", ["echo"])
    with pytest.raises(CommandRefused, match="is a path"):
        parse_command("/bin/echo hi", ["echo"])
    with pytest.raises(CommandRefused, match="cannot split"):
        parse_command("echo 'unterminated", ["echo"])


def test_output_streams_as_log_events_and_the_exit_code_decides(eproject):
    steps = [
        {"id": "hello", "uses": "shell", "with": {"command": "python -c \"print('one'); print('two')\""}},
        {"id": "bad", "uses": "shell", "needs": ["hello"], "with": {"command": "false"}},
    ]
    run = drain(start(eproject, template(name="sh", steps=steps)))
    lines = [line for e in run.events.filter(type="step.log") for line in e.data["lines"]]
    assert lines == ["one", "two"]
    assert run.steps.get(key="hello").output["exit_code"] == 0
    bad = run.steps.get(key="bad")
    assert bad.status == "failed" and bad.error == "false exited with status 1"


def test_a_program_outside_the_allowlist_fails_with_the_reason(eproject):
    run = drain(
        start(
            eproject,
            template(
                name="deny",
                steps=[{"id": "x", "uses": "shell", "with": {"command": "curl http://example.com"}}],
            ),
        )
    )
    step = run.steps.get()
    assert step.status == "failed"
    assert "'curl' is not in the project's shell allow-list" in step.error


def test_a_timeout_kills_the_whole_process_group(eproject):
    steps = [{"id": "slow", "uses": "shell", "timeout": "1s", "with": {"command": SPAWNER}}]
    run = drain(start(eproject, template(name="to", steps=steps)))
    step = run.steps.get()
    assert step.status == "failed" and step.error == "timed out after 1s"
    assert (eproject.workspace_path / "pids").read_text()  # it did start its child
    assert running_in(eproject.workspace_path) == []


def test_cwd_and_env_and_a_report(eproject):
    (eproject.workspace_path / "sub").mkdir()
    (eproject.workspace_path / "specs" / "spec-x").mkdir(parents=True)
    (eproject.workspace_path / "specs" / "spec-x" / "spec.md").write_text("# spec-x\n")
    steps = [
        {
            "id": "w",
            "uses": "shell",
            "with": {
                "command": "python -c \"import os; print(os.getcwd().endswith('sub'), os.environ['GREETING'])\"",
                "cwd": "sub",
                "env": {"GREETING": "hi ${{ spec_id }}"},
                "report": "test-suite-runner",
            },
        }
    ]
    run = drain(start(eproject, template(name="cwd", steps=steps), spec_id="spec-x"))
    lines = [line for e in run.events.filter(type="step.log") for line in e.data["lines"]]
    assert lines == ["True hi spec-x"]
    summary = eproject.workspace_path / ".spec/reports/test-suite-runner" / str(run.pk) / "summary.json"
    assert '"passed": true' in summary.read_text()
