"""Publishing a run: push its branch to the project's remote, then open a pull request.

The push is the real `git push` (argument list, clean environment, never `--force`), to
the remote the project names (workflows.domain.git_remotes; a path on the server is
checked again first). A token comes from the environment variable the project names, at
the moment it is needed: for an http(s) remote git gets it as an `http.extraHeader`
through GIT_CONFIG_COUNT/KEY/VALUE environment variables, so it is neither on a command
line nor in a config file; the provider's API gets it in a header. It is never stored,
and every message that leaves this module has it blanked out.

The pull request's body is the verification report of the run's spec as the pushed
commit has it: each task verified, or why not.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from accounts.services import audit_record
from workflows.domain import git_remotes
from workflows.domain.texts import Code, Text
from workflows.domain.verification import TaskStatus, VerificationReport, verify_spec
from workflows.domain.workspace import ScopeError, UnknownSpec, Workspace, WorkspaceError
from workflows.engine import git_runs
from workflows.engine.git_runs import GitError, git
from workflows.engine.journal import event_append
from workflows.models import ManualCheck, Run
from workflows.workspace_policy import (
    WorkspaceNotAllowed,
    project_workspace_dir,
    remote_path_checked,
    run_worktree_checked,
)

if TYPE_CHECKING:
    from workflows.models import Project

HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
PROVIDER_LABELS = {"github": "GitHub", "gitlab": "GitLab"}
# The user name git sends with a token over http(s) (the password is the token).
TOKEN_USERS = {"github": "x-access-token", "gitlab": "oauth2"}
ALLOWED_PROTOCOLS = "file:git:http:https:ssh"


logger = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """Publishing failed or may not start; the message says why (never with the token).

    `code`: "conflict" when the run or the project's settings do not allow it, "upstream"
    when the remote or the provider refused or could not be reached.
    """

    def __init__(self, message: str, code: str = "conflict") -> None:
        super().__init__(message)
        self.code = code


def _scrub(text: str, token: str | None) -> str:
    """The text without the token; a sentence (Text) keeps its template, its values scrubbed."""
    if not token:
        return text
    if isinstance(text, Text):
        return Text(
            text.template,
            **{
                k: _scrub(v, token) if isinstance(v, str) and not isinstance(v, Code) else v
                for k, v in text.params.items()
            },
        )
    for form in {token, quote(token, safe=""), _basic(token, "x-access-token"), _basic(token, "oauth2")}:
        text = text.replace(form, "***")
    return text


def _basic(token: str, user: str) -> str:
    return base64.b64encode(f"{user}:{token}".encode()).decode()


def token_for(project: Project) -> str | None:
    """The token from the environment variable the project names; None when it names none."""
    name = project.git_token_env
    if not name:
        return None
    value = os.environ.get(name, "").strip()
    if not value:
        raise PublishError(
            Text(
                "The environment variable {name} (the project's git token) is not set on the server; "
                "nothing was pushed.",
                name=name,
            )
        )
    return value


def remote_for(project: Project) -> str:
    """The project's remote as git gets it, checked again now."""
    remote = project.git_remote
    if not remote:
        raise PublishError(Text("The project names no git remote: approved runs stay local."))
    if problem := git_remotes.remote_problem(remote):
        raise PublishError(Text("The project's git remote is refused: {problem}.", problem=problem))
    if git_remotes.is_local_path(remote):
        try:
            return str(remote_path_checked(remote))
        except WorkspaceNotAllowed as exc:
            raise PublishError(exc.args[0]) from None
    return remote


def _repo(run: Run) -> Path:
    try:
        return project_workspace_dir(run.project)
    except WorkspaceNotAllowed as exc:
        raise PublishError(
            Text("The project's workspace cannot be used: {reason}", reason=exc.args[0])
        ) from None


def branch_head(run: Run, repo: Path) -> str:
    """The commit at the tip of the run's branch; PublishError when it has nothing to publish."""
    if not run.git_branch:
        raise PublishError(
            Text("Run {run} has no git branch: its project's workspace is not a git repository.", run=run.pk)
        )
    ref = f"refs/heads/{run.git_branch}"
    head = git(["rev-parse", "--verify", "--quiet", ref], cwd=repo, check=False).strip()
    if not head:
        raise PublishError(
            Text("The branch {branch} of run {run} no longer exists.", branch=run.git_branch, run=run.pk)
        )
    if head == run.git_base:
        raise PublishError(
            Text("Run {run} has no commits on its branch yet: nothing to publish.", run=run.pk)
        )
    return head


def _push_env(remote: str, token: str | None, provider: str) -> dict[str, str]:
    env = {
        "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,  # no ext::, fd:: or other helpers, ever
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",  # a key or nothing: never a prompt
    }
    if token and git_remotes.is_http_url(remote):
        user = TOKEN_USERS.get(provider, "x-access-token")
        env |= {
            "GIT_CONFIG_COUNT": "2",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {_basic(token, user)}",
            # The header goes to every request: never to wherever a redirect points.
            "GIT_CONFIG_KEY_1": "http.followRedirects",
            "GIT_CONFIG_VALUE_1": "false",
        }
    return env


def push_branch(run: Run) -> str:
    """Push the run's branch to the project's remote (same name there); the pushed commit.
    A branch that moved elsewhere on the remote is not overwritten: the push is refused."""
    project = run.project
    remote = remote_for(project)
    token = token_for(project)
    repo = _repo(run)
    head = branch_head(run, repo)
    ref = f"refs/heads/{run.git_branch}"
    try:
        git(
            ["push", "--quiet", "--porcelain", "--", remote, f"{head}:{ref}"],
            cwd=repo,
            extra_env=_push_env(remote, token, project.pr_provider),
        )
    except GitError as exc:
        raise PublishError(
            _scrub(
                Text(
                    "Pushing {branch} to {remote} failed: {reason}",
                    branch=run.git_branch,
                    remote=project.git_remote,
                    reason=exc.args[0],
                ),
                token,
            ),
            code="upstream",
        ) from None
    return head


@contextmanager
def _checkout(repo: Path, commit: str) -> Iterator[Path]:
    """A temporary detached worktree of `commit` below the worktrees folder."""
    root = git_runs.worktrees_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"publish-{secrets.token_hex(6)}"
    git(["worktree", "add", "--quiet", "--detach", str(path), commit], cwd=repo)
    try:
        yield path
    finally:
        git(["worktree", "remove", "--force", str(path)], cwd=repo, check=False)
        shutil.rmtree(path, ignore_errors=True)
        git(["worktree", "prune"], cwd=repo, check=False)


def _report_of(run: Run, workspace: Workspace) -> VerificationReport:
    manual = dict(ManualCheck.objects.for_spec(run.project, run.spec_id))
    return verify_spec(workspace, run.spec_id, run_id=str(run.pk), manual=manual)  # type: ignore[arg-type]


def verification_report(run: Run) -> str:
    """Markdown: each task of the run's spec, verified or why not, as the branch's head has it
    (read from a temporary worktree of that commit, so it is exactly what was pushed)."""
    repo = _repo(run)
    head = branch_head(run, repo)
    intro = (
        f"Run {run.pk} of `{run.workflow_name}` by SmartSpec Autopilot, branch `{run.git_branch}` "
        f"at {head[:12]}."
    )
    if not run.spec_id:
        return f"{intro}\n\nThe run names no spec: there are no tasks to verify.\n"
    with _checkout(repo, head) as path:
        workspace = Workspace(run_worktree_checked(path), options=run.project.read_options())
        try:
            report = _report_of(run, workspace)
        except (UnknownSpec, WorkspaceError, ScopeError, ValueError) as exc:
            return f"{intro}\n\nThe spec `{run.spec_id}` could not be verified on the branch: {exc}\n"
    return f"{intro}\n\n{report_markdown(report)}"


def report_markdown(report: VerificationReport) -> str:
    lines = [
        f"### Verification of `{report.spec_id}`: {report.verified} of {report.total} tasks verified",
        "",
    ]
    for task in report.tasks:
        title = " ".join(task.title.split())
        if task.status is TaskStatus.VERIFIED:
            lines.append(f"- ✅ **{task.id}** {title} — verified")
        else:
            why = "; ".join(" ".join(r.split()) for r in task.reasons) or "no reason given"
            lines.append(f"- ❌ **{task.id}** {title} — {task.status.value.replace('_', ' ')}: {why}")
    if not report.tasks:
        lines.append("The spec has no tasks yet.")
    for warning in report.warnings:
        lines.append(f"\n> ⚠️ {warning}")
    return "\n".join(lines) + "\n"


def _base_branch(run: Run) -> str:
    try:
        return git_runs.base_branch(run.project, _repo(run))
    except GitError as exc:
        raise PublishError(
            Text("The pull request's base branch cannot be told: {reason}", reason=exc.args[0])
        ) from None


def _request(run: Run, base: str, report: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    """The provider's endpoint, JSON body and headers (without the token) for the request."""
    project = run.project
    api = git_remotes.api_url_for(project.pr_provider, project.pr_api_url)
    title = f"SmartSpec run {run.pk}" + (f": {run.spec_id}" if run.spec_id else f" ({run.workflow_name})")
    if project.pr_provider == "github":
        url = f"{api}/repos/{project.pr_repository}/pulls"
        body = {"title": title, "head": run.git_branch, "base": base, "body": report}
        return url, body, {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    url = f"{api}/projects/{quote(project.pr_repository, safe='')}/merge_requests"
    body = {"source_branch": run.git_branch, "target_branch": base, "title": title, "description": report}
    return url, body, {"Accept": "application/json"}


def open_pull_request(run: Run, report: str) -> str:
    """Open the pull (merge) request of the run's branch on the project's provider; its URL."""
    project = run.project
    if project.pr_provider not in PROVIDER_LABELS:
        raise PublishError(Text("The project opens no pull requests (provider: none)."))
    if problems := project.publish_problems():
        field, problem = next(iter(problems.items()))
        raise PublishError(
            Text(
                "The project's pull request settings are incomplete: {field}: {problem}.",
                field=field,
                problem=problem,
            )
        )
    if refused := git_remotes.api_url_problem(project.pr_api_url):
        raise PublishError(Text("The project's API URL is refused: {problem}.", problem=refused))
    token = token_for(project)
    assert token is not None  # publish_problems() asks for its variable
    label = PROVIDER_LABELS[project.pr_provider]
    url, body, headers = _request(run, _base_branch(run), report)
    if project.pr_provider == "github":
        headers["Authorization"] = f"Bearer {token}"
    else:
        headers["PRIVATE-TOKEN"] = token
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False) as client:
            response = client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise PublishError(
            _scrub(
                Text(
                    "{provider} could not be reached at {url}: {error}",
                    provider=label,
                    url=url,
                    error=str(exc),
                ),
                token,
            ),
            code="upstream",
        ) from None
    if response.status_code >= 300:
        message = _scrub(_provider_message(response), token)
        raise PublishError(
            Text(
                "{provider} refused the pull request ({status}): {message}",
                provider=label,
                status=response.status_code,
                message=message,
            ),
            code="upstream",
        )
    try:
        found = response.json().get("html_url" if project.pr_provider == "github" else "web_url")
    except (ValueError, AttributeError):
        found = None
    if not isinstance(found, str) or not git_remotes.is_http_url(found):
        raise PublishError(
            Text("{provider} answered without the pull request's address.", provider=label), code="upstream"
        )
    return found


def _provider_message(response: httpx.Response) -> str:
    """What the provider said was wrong: GitHub's message and errors, GitLab's message."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if not isinstance(data, dict):
        return str(data)[:300]
    parts: list[str] = []
    for key in ("message", "error", "error_description"):
        value = data.get(key)
        if isinstance(value, str) and value:
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(str(v) for v in value)
        elif isinstance(value, dict):
            parts.extend(
                f"{k} {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in value.items()
            )
    for error in data.get("errors") or []:
        if isinstance(error, dict):
            parts.append(str(error.get("message") or error.get("code") or error))
        else:
            parts.append(str(error))
    return ": ".join(parts)[:500] or response.reason_phrase


def publish_run(run: Run) -> dict[str, str]:
    """Push the run's branch and, when the project names a provider and the run has no pull
    request yet, open one; {remote, branch, commit, pull_request_url}. The token is looked
    up first, so a missing one stops everything before anything is pushed."""
    project = run.project
    remote_for(project)
    if problems := project.publish_problems():
        field, problem = next(iter(problems.items()))
        raise PublishError(
            Text(
                "The project's publish settings are incomplete: {field}: {problem}.",
                field=field,
                problem=problem,
            )
        )
    token_for(project)
    with git_runs.run_lock(run.pk):
        commit = push_branch(run)
        url: str = Run.objects.values_list("pull_request_url", flat=True).get(pk=run.pk) or ""
        if project.pr_provider in PROVIDER_LABELS and not url:
            url = open_pull_request(run, verification_report(run))
    return {"remote": project.git_remote, "branch": run.git_branch, "commit": commit, "pull_request_url": url}


def publish_recorded(run: Run, *, by: User | None, channel: str) -> dict[str, str]:
    """publish_run, then on the record: the run's `pushed_at` and pull request, a
    `run.published` event and an audit entry; when the remote or the provider refused, a
    `run.publish_failed` event before the PublishError goes on. The network work runs
    outside any transaction."""
    try:
        result = publish_run(run)
    except PublishError as exc:
        if exc.code == "upstream":  # tried, and the remote or the provider said no
            with transaction.atomic():
                event_append(run_id=run.pk, type="run.publish_failed", data={"error": str(exc)})
        raise
    with transaction.atomic():
        Run.objects.filter(pk=run.pk).update(
            pushed_at=timezone.now(), pull_request_url=result["pull_request_url"]
        )
        event_append(run_id=run.pk, type="run.published", data=dict(result))
        audit_record(
            action="workflows.run.published",
            channel=channel,
            actor=by,
            team=run.project.team,
            obj=run,
            data=dict(result),
        )
    return result


def publish_after_review(run_id: int, *, by: User | None, channel: str) -> None:
    """After an approved review gate merged the run's branch (on commit): publish it when
    the project names a remote. A refusal does not undo the approval: it is on the run's
    record (`run.publish_failed`) and the run page offers to publish again."""
    run = Run.objects.select_related("project__team").get(pk=run_id)
    if not run.project.git_remote or not run.git_branch:
        return
    try:
        publish_recorded(run, by=by, channel=channel)
    except (PublishError, GitError) as exc:
        logger.warning("run %s: publishing after the review failed: %s", run_id, exc)
        if getattr(exc, "code", "") != "upstream":  # publish_recorded put the upstream ones on record
            with transaction.atomic():
                event_append(run_id=run_id, type="run.publish_failed", data={"error": str(exc)})
