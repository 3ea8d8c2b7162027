"""The `shell` step as a security boundary: an allowed program reaches only the workspace.

Each test runs real workflows through the engine (drained in this process, as a worker
would) and checks both that the step failed with its reason and that nothing ran.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from tests.workflows.engine.conftest import drain, start, template
from tests.workflows.engine.test_shell import SPAWNER, running_in
from workflows.models import Project, Run, Step
from workflows.services.runs import run_cancel

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SECRET = "top-secret-key-4f1c9a"


def allow(project: Project, *programs: str) -> None:
    project.shell_allowlist = sorted({*project.shell_allowlist, *programs})
    project.save(update_fields=["shell_allowlist"])


def run_step(
    project: Project, with_: dict[str, Any], *, at_run: dict[str, Any] | None = None, **kw: Any
) -> Step:
    """Run one shell step. `at_run` replaces keys of its config after the template was
    saved, as a row changed behind the validation's back would: the executor must hold the
    line on its own, whatever template validation checks when a template is saved."""
    step_doc: dict[str, Any] = {"id": "s", "uses": "shell", "with": with_}
    if "timeout" in kw:
        step_doc["timeout"] = kw.pop("timeout")
    run = start(project, template(name="boundary", steps=[step_doc]), **kw)
    if at_run:
        Step.objects.filter(run=run).update(config={**with_, **at_run})
    return drain(run).steps.get()


def logged(step: Step) -> str:
    lines = [line for e in step.run.events.filter(type="step.log") for line in e.data["lines"]]
    return "\n".join(lines)


def assert_refused(step: Step, reason: str) -> None:
    assert step.status == "failed", (step.status, step.error)
    assert reason in step.error
    assert "exit_code" not in step.output  # refused before anything ran


# 1. Arguments that name files ------------------------------------------------------------


def test_an_argument_cannot_name_a_file_outside_the_workspace(eproject, data_dir):
    secret = data_dir / "secret-key"
    secret.write_text(SECRET)
    ws = eproject.workspace_path
    (ws / "link-to-outside").symlink_to(secret)
    (ws / "notes.txt").write_text("inside the workspace\n")
    (ws / "tests").mkdir()
    allow(eproject, "cat")
    for command in (
        "cat ../../secret-key",
        f"cat {secret}",
        "cat /etc/passwd",
        "cat ./link-to-outside",
        "cat link-to-outside",
        "cat ~/.bashrc",
        f"cat --file={secret}",
        "echo -I../../..",
    ):
        step = run_step(eproject, {"command": command})
        assert_refused(step, "points outside the workspace")
        assert SECRET not in logged(step) and SECRET not in str(step.output)
    # Plain words, files inside, and text with spaces are arguments like any other.
    step = run_step(eproject, {"command": "cat notes.txt ./tests/../notes.txt"})
    assert step.status == "succeeded", step.error
    step = run_step(eproject, {"command": "echo -q hello tests - /dev/null 'a/b c'"})
    assert step.status == "succeeded", step.error
    assert logged(step) == "-q hello tests - /dev/null a/b c"


# 2. git ---------------------------------------------------------------------------------


def test_git_runs_no_configuration_aliases_or_programs_from_its_arguments(eproject):
    ws = eproject.workspace_path
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    with (ws / ".git" / "config").open("a") as config:
        config.write("[alias]\n\tpwn = !touch pwned-by-alias\n")
    allow(eproject, "git")
    refused = {
        "git -c alias.x='!touch pwned' x": "sets configuration",
        "git -calias.x=!touch x": "sets configuration",
        "git --config-env=alias.x=HOME x": "sets configuration",
        "git --exec-path=. status": "chooses where git's programs come from",
        "git -C .. status": "changes git's directory",
        "git pwn": "'git pwn' is not a git command a shell step runs",
        "git config alias.y '!touch pwned'": "'git config' may only read",
        "git ls-remote --upload-pack='touch pwned' .": "it runs a program",
        "git ls-remote --upload-p='touch pwned' .": "it runs a program",
        "git submodule foreach 'touch pwned'": "runs a command",
        "git difftool": "not a git command a shell step runs",
    }
    for command, reason in refused.items():
        step = run_step(eproject, {"command": command})
        assert_refused(step, reason)
    assert not list(ws.glob("pwned*"))
    for command in ("git status --short", "git --no-pager config --get core.bare", "git --version"):
        step = run_step(eproject, {"command": command})
        assert step.status == "succeeded", (command, step.error, logged(step))


# 3. The environment a template sets --------------------------------------------------------


def test_a_template_cannot_choose_which_binary_runs_through_its_env(eproject, data_dir):
    fake = data_dir / "fakebin"
    fake.mkdir()
    marker = data_dir / "fake-echo-ran"
    (fake / "echo").write_text(f"#!/bin/sh\n: > {marker}\n")  # a builtin: no PATH needed
    (fake / "echo").chmod(0o755)
    for name, value in (("PATH", str(fake)), ("LD_PRELOAD", str(fake / "x.so")), ("GIT_DIR", "..")):
        step = run_step(eproject, {"command": "echo hi"}, at_run={"env": {"GREETING": "hi", name: value}})
        assert_refused(step, f"a shell step's env may not set {name}")
    assert not marker.exists()
    # The same check, for template validation when a template is saved.
    from workflows.domain.shell_policy import forbidden_env_names

    names = [
        "PATH",
        "GREETING",
        "LD_PRELOAD",
        "ld_audit",
        "DYLD_INSERT_LIBRARIES",
        "GIT_CONFIG_GLOBAL",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "BASH_ENV",
        "ENV",
        "BASH_FUNC_echo%%",
        "CI",
    ]
    assert forbidden_env_names(names) == [n for n in names if n not in {"GREETING", "CI"}]


# 4. Params are spliced in after splitting ----------------------------------------------------


def test_a_param_is_one_argument_whatever_it_holds(eproject, data_dir):
    (data_dir / "secret-key").write_text(SECRET)
    show = 'python -c "import sys; print(sys.argv[1:])"'
    step = run_step(
        eproject,
        {"command": f"{show} ${{{{ params.msg }}}} '${{{{ params.quoted }}}}' pre-${{{{params.msg}}}}"},
        params={"msg": "x --output=/etc/passwd", "quoted": "a' 'b"},
    )
    assert step.status == "succeeded", step.error
    assert logged(step) == str(["x --output=/etc/passwd", "a' 'b", "pre-x --output=/etc/passwd"])
    # Path rules apply to what the param put in.
    allow(eproject, "cat")
    step = run_step(eproject, {"command": "cat ${{ params.file }}"}, params={"file": "../../secret-key"})
    assert_refused(step, "points outside the workspace")
    assert SECRET not in logged(step)


# 5. Report names ------------------------------------------------------------------------------


def test_a_report_name_is_one_plain_folder_name(eproject, data_dir):
    outside = data_dir / "workspaces" / "outside"
    step = run_step(eproject, {"command": "echo hi", "report": "fine"}, at_run={"report": "../../../outside"})
    assert_refused(step, "report '../../../outside' is not a plain name")
    assert not outside.exists()
    # The same check, for template validation when a template is saved.
    from workflows.domain.shell_policy import REPORT_NAME_RE, report_name_problem

    for good in ("test-suite-runner", "a", "x_1", "9" * 64):
        assert REPORT_NAME_RE.match(good) and report_name_problem(good) is None
    for bad in ("", "../x", "a/b", "Tests", "-x", "x\n", "9" * 65, ".", None, 3):
        assert report_name_problem(bad) is not None, bad


# 6. The sandbox --------------------------------------------------------------------------------

PROBE = """
import os, pathlib, sys
def seen(path):
    try:
        pathlib.Path(path).read_bytes()
        return "visible"
    except OSError:
        return "hidden"
print("secret", seen({secret!r}))
print("database", seen({database!r}))
print("worker", "visible" if os.path.exists("/proc/{worker}/environ") else "hidden")
print("shadow", seen("/etc/shadow"))
pathlib.Path("written.txt").write_text("ok")
try:
    pathlib.Path(sys.prefix, "planted").write_text("x")
    print("python", "writable")
except OSError:
    print("python", "read-only")
"""


def test_the_sandbox_shows_the_workspace_and_hides_the_data_directory(eproject, data_dir, settings):
    settings.STEP_SANDBOX = "bwrap"
    (data_dir / "secret-key").write_text(SECRET)
    (data_dir / "db.sqlite3").write_text("rows")
    ws = eproject.workspace_path
    (ws / "probe.py").write_text(
        PROBE.format(
            secret=str(data_dir / "secret-key"), database=str(data_dir / "db.sqlite3"), worker=os.getpid()
        )
    )
    step = run_step(eproject, {"command": "python probe.py"})
    assert step.status == "succeeded", (step.error, logged(step))
    assert logged(step).splitlines() == [
        "secret hidden",
        "database hidden",
        "worker hidden",
        "shadow hidden",
        "python read-only",
    ]
    assert (ws / "written.txt").read_text() == "ok"
    # The app's Python and its packages are there: a test suite runs.
    (ws / "test_sample.py").write_text("def test_sample():\n    assert 1 + 1 == 2\n")
    step = run_step(eproject, {"command": "python -m pytest -q -p no:cacheprovider test_sample.py"})
    assert step.status == "succeeded", (step.error, logged(step))
    assert "1 passed" in logged(step)


def test_the_agent_command_runs_in_the_same_sandbox(project, data_dir, settings, tmp_path_factory):
    settings.STEP_SANDBOX = "bwrap"
    (data_dir / "secret-key").write_text(SECRET)
    tools = tmp_path_factory.mktemp("agent-tools")  # outside the data directory
    (tools / "agent.py").write_text(
        "import pathlib, sys\n"
        f"try:\n    print(pathlib.Path({str(data_dir / 'secret-key')!r}).read_text())\n"
        "except OSError:\n    print('secret hidden')\n"
        "pathlib.Path(sys.argv[1], 'agent-was-here.txt').write_text('ok')\n"
    )
    Project.objects.filter(pk=project.pk).update(agent_command=f"python {tools / 'agent.py'} {{spec_dir}}")
    project.refresh_from_db()
    steps = [{"id": "agent", "uses": "agent", "with": {"workflow": "implement_tasks"}}]
    run = drain(start(project, template(name="agent-box", steps=steps), spec_id="spec-feature-002-orders"))
    step = run.steps.get()
    assert step.status == "succeeded", (step.error, logged(step))
    assert logged(step) == "secret hidden"
    assert (project.workspace_path / "specs" / "spec-feature-002-orders" / "agent-was-here.txt").exists()


def test_a_required_sandbox_that_cannot_run_fails_the_step(eproject, settings, monkeypatch):
    from workflows.engine.executors import sandbox

    monkeypatch.setattr(sandbox, "find_bwrap", lambda: None)
    settings.STEP_SANDBOX = "bwrap"
    step = run_step(eproject, {"command": "python -c \"open('ran', 'w')\""})
    assert step.status == "failed"
    assert step.error.startswith("STEP_SANDBOX=bwrap, but the sandbox cannot run here: bwrap")
    assert not (eproject.workspace_path / "ran").exists()
    settings.STEP_SANDBOX = "auto"  # auto falls back to running unconfined
    step = run_step(eproject, {"command": "python -c \"open('ran', 'w')\""})
    assert step.status == "succeeded", step.error
    assert (eproject.workspace_path / "ran").exists()


def test_a_timeout_kills_everything_in_the_sandbox(eproject, settings):
    settings.STEP_SANDBOX = "bwrap"
    step = run_step(eproject, {"command": SPAWNER}, timeout="1s")
    assert step.status == "failed" and step.error == "timed out after 1s"
    parent, _ = map(int, (eproject.workspace_path / "pids").read_text().split())
    assert parent < 10  # its own PID namespace: it could not see or signal the worker
    assert running_in(eproject.workspace_path) == []


def test_a_cancel_kills_everything_in_the_sandbox(eproject, settings):
    settings.STEP_SANDBOX = "bwrap"
    # The timeout only ends the test if the cancel never comes.
    steps = [{"id": "s", "uses": "shell", "timeout": "30s", "with": {"command": SPAWNER}}]
    run = start(eproject, template(name="cancel", steps=steps))
    pids = eproject.workspace_path / "pids"
    cancelled: list[bool] = []
    running: list[int] = []

    def cancel_once_started() -> None:
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (pids.exists() and pids.read_text()):
                time.sleep(0.05)
            running.extend(running_in(eproject.workspace_path))
            cancelled.append(True)
            run_cancel(run=Run.objects.get(pk=run.pk), by=None, channel="api")
        finally:
            connections.close_all()

    canceller = threading.Thread(target=cancel_once_started)
    canceller.start()
    drain(run)
    canceller.join(timeout=30)
    assert cancelled and len(running) >= 2  # the step and its child were running
    assert int(pids.read_text().split()[0]) < 10  # in the sandbox's own PID namespace
    assert Step.objects.get(run=run).status == "cancelled"  # the cancel, not the timeout, ended it
    assert running_in(eproject.workspace_path) == []


def test_the_sandbox_setting_fails_loudly_on_a_bad_value():
    from tests.test_settings import _settings_with

    result = _settings_with(STEP_SANDBOX="maybe")
    assert result.returncode != 0
    assert "STEP_SANDBOX='maybe' is not one of: auto, bwrap, none" in result.stderr


def test_a_path_in_the_workspace_is_judged_after_symlinks(tmp_path: Path):
    from workflows.domain.shell_policy import CommandRefused, check_arguments

    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "sub" / "up").symlink_to("..")
    check_arguments(["cat", "sub/up/sub"], workspace=str(ws), cwd=str(ws))
    check_arguments(["cat", ".."], workspace=str(ws), cwd=str(ws / "sub"))
    with pytest.raises(CommandRefused, match="outside the workspace"):
        check_arguments(["cat", "sub/up/.."], workspace=str(ws), cwd=str(ws))
    with pytest.raises(CommandRefused, match="outside the workspace"):
        check_arguments(["git", "clone", "file:///etc"], workspace=str(ws), cwd=str(ws))


def test_the_data_directory_stays_hidden_whatever_else_the_sandbox_shows(tmp_path: Path):
    from workflows.engine.executors.sandbox import mount_options

    app = tmp_path / "app"  # a Python installed around the data directory
    data = app / "var"
    ws = data / "workspaces" / "w"
    ws.mkdir(parents=True)
    options = " ".join(mount_options(workspace=ws, data_dir=data, python_prefixes=[str(app)]))
    shown, hidden, workspace = (
        options.index(f"--ro-bind {app} {app}"),
        options.index(f"--tmpfs {data}"),
        options.index(f"--bind {ws} {ws}"),
    )
    assert shown < hidden < workspace  # later mounts cover earlier ones
    # A workspace that holds the data directory shows everything in it but that.
    options = " ".join(mount_options(workspace=app, data_dir=data, python_prefixes=[]))
    assert options.index(f"--bind {app} {app}") < options.index(f"--tmpfs {data}")
    # Files an agent command names inside the data directory are not shown.
    secret = data / "secret-key"
    secret.write_text(SECRET)
    options = " ".join(
        mount_options(workspace=ws, data_dir=data, python_prefixes=[], read_only=[(str(secret), str(secret))])
    )
    assert str(secret) not in options
