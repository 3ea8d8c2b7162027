"""The `agent` step: an AI coding agent runs one SmartSpec workflow for a spec.

Two ways, configured per project: a command template (an agent CLI that takes a prompt
file), or an OpenAI-compatible chat endpoint whose streamed answer becomes the artefact.
The endpoint's API key is read from the environment variable the project names; it is
never stored, shown, logged or put in an event.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path

import httpx

from workflows.domain.layouts import discover_specs
from workflows.domain.spec_formats import document_name
from workflows.domain.task_groups import item_tasks
from workflows.domain.texts import reason_of
from workflows.domain.workspace import ScopeError, Workspace, WorkspaceError
from workflows.engine.executors.base import StepContext, StepResult
from workflows.engine.executors.shell import process_env, run_process
from workflows.engine.hook_edits import Before, HookEditError, before_edit, check_edit
from workflows.engine.prompts import HOOK_WORKFLOWS, build_prompt, spec_dir_for
from workflows.engine.usage import Usage, usage_from_chunk, usage_from_line

# What each workflow produces when the agent answers through a chat endpoint.
ARTEFACTS = {
    "generate_spec": "spec.md",
    "generate_plan": "plan.md",
    "generate_tasks": "tasks.md",
    "docs_generator": "README.md",
}
FENCE_RE = re.compile(r"^```[\w-]*\n(.*)\n```\s*$", re.S)
CONNECT_TIMEOUT = 10.0


def run_agent(context: StepContext) -> StepResult:
    workflow = context.config["workflow"]
    project = context.project
    try:
        workspace = context.spec_workspace()
        spec_dir = spec_dir_for(workspace, context.spec_id)
    except (WorkspaceError, ScopeError, ValueError) as exc:
        return StepResult.fail(reason_of(exc))
    prompt = build_prompt(
        workspace,
        spec_dir,
        context.spec_id,
        workflow,
        context.config.get("prompt", ""),
        only_tasks=item_tasks(context.item),
    )
    report_dir = f".spec/reports/{workflow.replace('_', '-')}/{context.run_id}"
    prompt_rel = f"{report_dir}/{context.key.replace('/', '_')}-prompt.md"
    prompt_path = workspace.write_text(prompt_rel, prompt)
    before = None
    if workflow in HOOK_WORKFLOWS:
        try:
            before = before_edit(workspace, context.spec_id)
        except HookEditError as exc:
            return StepResult.fail(f"{workflow} needs the spec's tasks.md: {exc}")
    usage = Usage()
    if project.agent_command:
        result = _run_command(context, workspace, spec_dir, prompt_path, workflow, usage)
    elif project.agent_endpoint:
        result = _run_endpoint(context, workspace, spec_dir, prompt, workflow, report_dir, usage)
    else:
        return StepResult.fail(
            f"project '{project.slug}' has no agent configured: set its agent command or "
            "its OpenAI-compatible endpoint"
        )
    # What the agent said it used, succeeded or not (the worker records it with the time).
    result.output["usage"] = usage.as_output()
    if before is not None:
        refused = f"{report_dir}/{context.key.replace('/', '_')}-refused-tasks.md"
        result = _check_hooks(result, workspace, workflow, before, refused)
    result.output.setdefault("workflow", workflow)
    result.output.setdefault("prompt_file", prompt_rel)
    return result


def _check_hooks(
    result: StepResult, workspace: Workspace, workflow: str, before: Before, refused: str
) -> StepResult:
    """An evidence-hook workflow changed only evidence lines, and made progress."""
    if result.status != "succeeded":
        return result
    try:
        result.output.update(check_edit(workspace, workflow, before, refused))
    except HookEditError as exc:
        return StepResult.fail(str(exc), **result.output)
    result.output["artefact"] = before.tasks_rel
    return result


def _run_command(
    context: StepContext,
    workspace: Workspace,
    spec_dir: str,
    prompt_path: Path,
    workflow: str,
    usage: Usage,
) -> StepResult:
    values = {
        "{prompt_file}": str(prompt_path),
        "{workflow}": workflow,
        "{spec_id}": context.spec_id,
        "{spec_dir}": str(workspace.root / spec_dir),
        "{workspace}": str(workspace.root),
        "{run_id}": str(context.run_id),
    }
    try:
        argv = shlex.split(context.project.agent_command)
    except ValueError as exc:
        return StepResult.fail(f"the project's agent command cannot be split: {exc}")
    for index, arg in enumerate(argv):
        for token, value in values.items():
            arg = arg.replace(token, value)
        argv[index] = arg
    env = process_env(context, {"SMARTSPEC_WORKFLOW": workflow})
    # The admin's command is trusted as written: no argument rules, only the sandbox, which
    # also shows it the files the command names outside the workspace (its script).
    result = run_process(
        context,
        argv,
        cwd=workspace.root,
        env=env,
        stdin=prompt_path.read_bytes(),
        read_only=_command_files(context.project.agent_command, env.get("PATH", "")),
        on_line=lambda line: _count_usage(usage, line),
    )
    return _check_artefact(result, workspace, spec_dir, workflow)


def _count_usage(usage: Usage, line: str) -> None:
    """Add a `{"smartspec_usage": …}` line of the agent's output (it stays in the log)."""
    found = usage_from_line(line)
    if found is not None:
        usage.add(found)


def _command_files(command: str, path: str) -> list[tuple[str, str]]:
    """(source, place) pairs of what the agent command needs outside the workspace: the
    existing absolute paths it names (`python /opt/agent/run.py`), and its program when
    that lives outside the system directories (a CLI in ~/.local/bin, bound at the place
    PATH finds it, from the file it links to)."""
    words = shlex.split(command)
    pairs = [(w, w) for w in words if os.path.isabs(w) and os.path.exists(w)]
    program = shutil.which(words[0], path=path) if words else None
    if program is not None:
        pairs.append((os.path.realpath(program), os.path.abspath(program)))
    return pairs


def _check_artefact(result: StepResult, workspace: Workspace, spec_dir: str, workflow: str) -> StepResult:
    target = ARTEFACTS.get(workflow)
    if result.status != "succeeded" or target is None:
        return result
    rel = artefact_of(workspace, spec_dir, target)
    if not workspace.is_file(rel):
        return StepResult.fail(f"the agent finished but did not write {rel}", **result.output)
    result.output["artefact"] = rel
    return result
    rel = f"{spec_dir}/{target}"
    if not workspace.is_file(rel):
        return StepResult.fail(f"the agent finished but did not write {rel}", **result.output)
    result.output["artefact"] = rel
    return result


def _run_endpoint(
    context: StepContext,
    workspace: Workspace,
    spec_dir: str,
    prompt: str,
    workflow: str,
    report_dir: str,
    usage: Usage,
) -> StepResult:
    project = context.project
    headers = {"Accept": "text/event-stream"}
    if project.agent_api_key_env:
        key = os.environ.get(project.agent_api_key_env)
        if not key:
            return StepResult.fail(
                f"the environment variable {project.agent_api_key_env} (the agent's API key) is not set"
            )
        headers["Authorization"] = f"Bearer {key}"
    body = {
        "model": project.agent_model or "default",
        "stream": True,
        # The last chunk then carries the tokens used (servers that ignore it send none).
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "You are a careful software engineer following SmartSpec."},
            {"role": "user", "content": prompt},
        ],
    }
    url = project.agent_endpoint.rstrip("/") + "/chat/completions"
    try:
        text = _stream_chat(context, url, headers, body, usage)
    except httpx.HTTPError as exc:
        return StepResult.fail(f"the agent endpoint failed: {type(exc).__name__}: {_safe(exc)}")
    except _Stopped:
        return context.interrupted()
    except ValueError as exc:
        return StepResult.fail(f"the agent endpoint answered something unreadable: {exc}")
    if not text.strip():
        return StepResult.fail("the agent endpoint answered with no text")
    artefact = _artefact_path(workspace, workflow, spec_dir, context, report_dir)
    match = FENCE_RE.match(text.strip())
    workspace.write_text(artefact, (match.group(1) if match else text).rstrip() + "\n")
    return StepResult.ok(artefact=artefact, characters=len(text))


class _Stopped(Exception):
    pass


def _stream_chat(
    context: StepContext, url: str, headers: dict[str, str], body: dict[str, object], usage: Usage
) -> str:
    """Collect the streamed answer, logging it line by line as it arrives; the usage a
    chunk reports is added to `usage`."""
    parts: list[str] = []
    pending = ""
    timeout = httpx.Timeout(connect=CONNECT_TIMEOUT, read=context.timeout_seconds or 600, write=30, pool=10)
    with httpx.stream("POST", url, json=body, headers=headers, timeout=timeout) as response:
        if response.status_code >= 400:
            response.read()
            raise httpx.HTTPStatusError(
                f"HTTP {response.status_code}: {response.text[:200]}",
                request=response.request,
                response=response,
            )
        for line in response.iter_lines():
            if context.stop_event.is_set():
                raise _Stopped
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            found = usage_from_chunk(chunk)
            if found is not None:
                usage.add(found)
            choices = chunk.get("choices") if isinstance(chunk, dict) else None
            if not choices:
                continue  # the usage chunk has no choices
            delta = choices[0].get("delta", {}).get("content") or ""
            parts.append(delta)
            pending += delta
            *complete, pending = pending.split("\n")
            for done in complete:
                context.log(done)
    if pending:
        context.log(pending)
    return "".join(parts)


def artefact_of(workspace: Workspace, spec_dir: str, name: str) -> str:
    """Where a spec document goes, by the name the workspace's format gives it (a Kiro
    spec's spec.md is requirements.md)."""
    return f"{spec_dir}/{document_name(discover_specs(workspace).format, name)}"


def _artefact_path(
    workspace: Workspace, workflow: str, spec_dir: str, context: StepContext, report_dir: str
) -> str:
    if workflow in ARTEFACTS:
        return artefact_of(workspace, spec_dir, ARTEFACTS[workflow])
    if workflow == "generate_tests":
        return f"{spec_dir}/tests/test_{context.spec_id.replace('-', '_')}.py"
    if workflow in HOOK_WORKFLOWS:
        # The answer is the whole new tasks.md; _check_hooks undoes it unless only hooks changed.
        return f"{spec_dir}/tasks.md"
    # A chat endpoint cannot edit files itself: the proposed changes are kept as a report.
    return f"{report_dir}/{context.key}-agent-output.md"


def _safe(exc: Exception) -> str:
    """An error message without anything that could carry a credential."""
    return str(exc).split("\n")[0][:200]
