"""Publishing a run: its branch pushed to the project's remote, a pull request opened.

Real git, the real demo agent's run of the demo project as a git repository, a local bare
repository as the remote, and a loopback HTTP server standing in for GitHub's or GitLab's
API (and for a git host over http).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from accounts.models import AuditEntry
from tests.git_repos import make_repo, remote_heads, sh
from tests.loopback_http import Loopback, loopback_server
from tests.workflows.engine.conftest import drain
from tests.workflows.engine.test_git_runs import AUTH, AUTH_TASKS, autopilot
from workflows.engine import git_runs
from workflows.models import Event, Project, Run
from workflows.services.errors import RunError
from workflows.services.projects import project_update
from workflows.services.publishing import run_publish

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

TOKEN = "ghp_Sm4rtSpecTestToken0123456789abcdef"  # noqa: S105 - a test's made-up token
TOKEN_ENV = "SMARTSPEC_TEST_GIT_TOKEN"  # noqa: S105 - a variable's name


@pytest.fixture
def demo(data_dir: Path) -> Project:
    call_command("seed_demo")
    return Project.objects.get(slug="demo")


@pytest.fixture
def git_run(demo: Project) -> Run:
    make_repo(Path(demo.workspace))
    run = drain(autopilot(demo))
    assert run.git_branch and run.outcome == "needs_manual", run.outcome_reason
    return run


@pytest.fixture
def api() -> Iterator[Loopback]:
    with loopback_server(201, {"html_url": "https://github.example/acme/shop/pull/7"}) as server:
        yield server


def member() -> User:
    return User.objects.get(username="demo-member")


def admin() -> User:
    return User.objects.get(username="demo-admin")


def github_settings(remote: Path, api_url: str) -> dict[str, str]:
    """A project's git settings: push to `remote`, open pull requests at `api_url` as GitHub."""
    return {
        "git_remote": str(remote),
        "pr_provider": "github",
        "pr_api_url": api_url,
        "pr_repository": "acme/shop",
        "git_token_env": TOKEN_ENV,
    }


def configure(project: Project, **git: str) -> Project:
    return project_update(project=project, updated_by=admin(), channel="web", git=git)


def head_of(run: Run) -> str:
    return sh("rev-parse", run.git_branch, cwd=Path(run.project.workspace)).strip()


def task_ids(run: Run) -> list[str]:
    text = sh("show", f"{run.git_branch}:{AUTH_TASKS}", cwd=Path(run.project.workspace))
    return sorted(set(re.findall(r"TSK-AUTH-\d+", text)))


def assert_token_stored_nowhere(*paths: Path) -> None:
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - names from the database
            assert TOKEN not in repr(cursor.fetchall()), f"the token is in {table}"
    for path in paths:
        for file in path.rglob("config"):
            assert TOKEN not in file.read_text(errors="replace"), file


def test_publish_pushes_the_branch_and_opens_a_github_pull_request(
    git_run: Run, remote: Path, api: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    configure(git_run.project, **github_settings(remote, api.url))
    result = run_publish(run=git_run, by=member(), channel="web")

    head = head_of(git_run)
    assert remote_heads(remote) == {git_run.git_branch: head}
    assert result == {
        "remote": str(remote),
        "branch": git_run.git_branch,
        "commit": head,
        "pull_request_url": "https://github.example/acme/shop/pull/7",
    }
    [request] = api.requests
    assert (request.method, request.path) == ("POST", "/repos/acme/shop/pulls")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/vnd.github+json"
    sent = request.json()
    assert (sent["head"], sent["base"]) == (git_run.git_branch, "main")
    assert AUTH in sent["title"] and str(git_run.pk) in sent["title"]
    # The body lists every task of the spec, verified or why not, as the pushed commit has it.
    body = sent["body"]
    assert head[:12] in body and f"Verification of `{AUTH}`" in body
    lines = {tid: next(ln for ln in body.splitlines() if f"**{tid}**" in ln) for tid in task_ids(git_run)}
    assert len(lines) >= 6
    assert "✅" in lines["TSK-AUTH-001"] and "— verified" in lines["TSK-AUTH-001"]
    assert lines["TSK-AUTH-006"].startswith("- ❌") and "needs manual:" in lines["TSK-AUTH-006"]
    assert sum("— verified" in line for line in lines.values()) == len(lines) - 1

    git_run.refresh_from_db()
    assert git_run.pull_request_url == "https://github.example/acme/shop/pull/7"
    assert git_run.pushed_at is not None
    event = git_run.events.get(type="run.published")
    assert event.data["commit"] == head and event.data["pull_request_url"] == result["pull_request_url"]
    entry = AuditEntry.objects.get(action="workflows.run.published", object_id=str(git_run.pk))
    assert entry.actor == member()
    # The temporary worktree of the report is gone; the workspace and base branch did not move.
    assert not any(p.name.startswith("publish-") for p in git_runs.worktrees_root().iterdir())
    assert sh("status", "--porcelain", cwd=Path(git_run.project.workspace)) == ""
    assert_token_stored_nowhere(Path(git_run.project.workspace) / ".git", remote)

    # Publishing again pushes the same head and opens no second pull request.
    again = run_publish(run=git_run, by=member(), channel="web")
    assert again["pull_request_url"] == result["pull_request_url"] and len(api.requests) == 1


def test_publish_opens_a_gitlab_merge_request(
    git_run: Run, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with loopback_server(201, {"web_url": "https://gitlab.example/group/shop/-/merge_requests/3"}) as api:
        configure(
            git_run.project,
            git_remote=str(remote),
            pr_provider="gitlab",
            pr_api_url=f"{api.url}/api/v4",
            pr_repository="group/shop",
            git_token_env=TOKEN_ENV,
        )
        result = run_publish(run=git_run, by=member(), channel="api")
    assert result["pull_request_url"] == "https://gitlab.example/group/shop/-/merge_requests/3"
    [request] = api.requests
    assert (request.method, request.path) == ("POST", "/api/v4/projects/group%2Fshop/merge_requests")
    assert request.headers["PRIVATE-TOKEN"] == TOKEN and "Authorization" not in request.headers
    sent = request.json()
    assert (sent["source_branch"], sent["target_branch"]) == (git_run.git_branch, "main")
    assert "**TSK-AUTH-006**" in sent["description"] and AUTH in sent["title"]
    assert remote_heads(remote) == {git_run.git_branch: head_of(git_run)}


def test_a_remote_without_a_provider_is_only_pushed(git_run: Run, remote: Path) -> None:
    configure(git_run.project, git_remote=str(remote))
    result = run_publish(run=git_run, by=member(), channel="web")
    assert result["pull_request_url"] == "" and remote_heads(remote) == {git_run.git_branch: head_of(git_run)}


def test_a_missing_token_variable_stops_before_anything_is_pushed(
    git_run: Run, remote: Path, api: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    configure(git_run.project, **github_settings(remote, api.url))
    seq = git_run.last_seq
    with pytest.raises(RunError) as refused:
        run_publish(run=git_run, by=member(), channel="web")
    assert refused.value.code == "conflict"
    assert f"The environment variable {TOKEN_ENV} (the project's git token) is not set" in str(refused.value)
    assert remote_heads(remote) == {} and api.requests == []
    git_run.refresh_from_db()
    assert (git_run.last_seq, git_run.pull_request_url, git_run.pushed_at) == (seq, "", None)


def test_the_providers_refusal_is_shown_without_the_token(
    git_run: Run, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    refusal = {
        "message": "Validation Failed",
        "errors": [{"resource": "PullRequest", "message": f"No commits between main and x ({TOKEN})"}],
    }
    with loopback_server(422, refusal) as api:
        configure(git_run.project, **github_settings(remote, api.url))
        with pytest.raises(RunError) as refused:
            run_publish(run=git_run, by=member(), channel="web")
        message = str(refused.value)
        assert refused.value.code == "upstream"
        assert (
            "GitHub refused the pull request (422): Validation Failed: No commits between main and x"
            in message
        )
        assert TOKEN not in message and "***" in message
        # The push itself went through; the failure is on the run's record, without the token.
        assert remote_heads(remote) == {git_run.git_branch: head_of(git_run)}
        failed = git_run.events.get(type="run.publish_failed")
        assert "Validation Failed" in failed.data["error"] and TOKEN not in str(failed.data)
        git_run.refresh_from_db()
        assert git_run.pull_request_url == ""
        # Once the provider agrees, publishing again opens the pull request.
        api.status, api.answer = 201, {"html_url": "https://github.example/acme/shop/pull/8"}
        assert run_publish(run=git_run, by=member(), channel="web")["pull_request_url"].endswith("/pull/8")
    assert_token_stored_nowhere(Path(git_run.project.workspace) / ".git", remote)


def test_an_unreachable_provider_is_a_clear_error(
    git_run: Run, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with loopback_server() as api:
        gone = api.url  # nothing listens there once the block ends
    configure(git_run.project, **github_settings(remote, gone))
    with pytest.raises(RunError) as refused:
        run_publish(run=git_run, by=member(), channel="web")
    assert (
        refused.value.code == "upstream"
        and f"GitHub could not be reached at {gone}/repos/acme/shop/pulls" in str(refused.value)
    )


def test_an_http_remote_gets_the_token_as_a_header_never_on_the_command_line(
    git_run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with loopback_server(403, {"message": "go away"}) as host:
        configure(git_run.project, git_remote=f"{host.url}/acme/shop.git", git_token_env=TOKEN_ENV)
        with pytest.raises(RunError) as refused:
            run_publish(run=git_run, by=member(), channel="web")
    assert refused.value.code == "upstream" and "Pushing" in str(refused.value)
    assert TOKEN not in str(refused.value)
    first = host.requests[0]
    assert first.path.startswith("/acme/shop.git/info/refs?service=git-receive-pack")
    expected = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert first.headers["Authorization"] == f"Basic {expected}"
    assert_token_stored_nowhere(Path(git_run.project.workspace) / ".git")


def test_a_redirecting_git_host_never_gets_the_token_sent_on(
    git_run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with loopback_server(404) as elsewhere, loopback_server(302) as host:
        host.headers = {"Location": f"{elsewhere.url}/acme/shop.git/info/refs?service=git-receive-pack"}
        configure(git_run.project, git_remote=f"{host.url}/acme/shop.git", git_token_env=TOKEN_ENV)
        with pytest.raises(RunError) as refused:
            run_publish(run=git_run, by=member(), channel="web")
    assert refused.value.code == "upstream" and TOKEN not in str(refused.value)
    assert host.requests and elsewhere.requests == []


def test_a_branch_moved_on_the_remote_is_never_overwritten(
    git_run: Run, remote: Path, data_dir: Path
) -> None:
    configure(git_run.project, git_remote=str(remote))
    # Someone else pushed other work to a branch of that name.
    other = data_dir / "other"
    other.mkdir()
    sh("init", "--quiet", "--initial-branch=main", cwd=other)
    (other / "X.txt").write_text("theirs\n")
    sh("add", "--all", cwd=other)
    sh("commit", "--quiet", "-m", "theirs", cwd=other)
    sh("push", "--quiet", str(remote), f"main:refs/heads/{git_run.git_branch}", cwd=other)
    theirs = sh("rev-parse", "HEAD", cwd=other).strip()
    with pytest.raises(RunError) as refused:
        run_publish(run=git_run, by=member(), channel="web")
    assert refused.value.code == "upstream" and "rejected" in str(refused.value)
    assert remote_heads(remote) == {git_run.git_branch: theirs}


def test_a_run_with_nothing_to_publish_is_refused(demo: Project, remote: Path) -> None:
    call_command("seed_demo", "--reset-workspace", "--no-git")
    run = drain(autopilot(demo))  # no git repository: no branch
    configure(demo, git_remote=str(remote))
    with pytest.raises(RunError, match="has no git branch"):
        run_publish(run=run, by=member(), channel="web")
    make_repo(Path(demo.workspace))
    base = sh("rev-parse", "HEAD", cwd=Path(demo.workspace)).strip()
    sh("branch", "smartspec/empty", cwd=Path(demo.workspace))
    Run.objects.filter(pk=run.pk).update(git_branch="smartspec/empty", git_base=base)
    run.refresh_from_db()
    with pytest.raises(RunError, match="has no commits on its branch yet"):
        run_publish(run=run, by=member(), channel="web")
    assert (
        remote_heads(remote) == {}
        and not Event.objects.filter(run=run, type__startswith="run.publish").exists()
    )


def test_a_project_without_a_remote_stays_local(git_run: Run) -> None:
    with pytest.raises(RunError, match="The project names no git remote"):
        run_publish(run=git_run, by=member(), channel="web")


def test_a_viewer_may_not_publish(git_run: Run, remote: Path) -> None:
    configure(git_run.project, git_remote=str(remote))
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        run_publish(run=git_run, by=User.objects.get(username="demo-viewer"), channel="web")
    assert remote_heads(remote) == {}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "git_remote",
            "https://user:secret@github.com/acme/shop.git",
            "credentials inside the remote URL are refused",
        ),
        (
            "git_remote",
            f"https://{TOKEN}@github.com/acme/shop.git",
            "credentials inside the remote URL are refused",
        ),
        ("git_remote", "ext::sh%20-c%20touch", "remote helpers such as ext:: and fd:: are refused"),
        ("git_remote", "fd::3", "remote helpers such as ext:: and fd:: are refused"),
        ("git_remote", "--upload-pack=touch", "must not start with '-'"),
        ("git_remote", "/etc", "is not a directory the app may push to"),
        ("git_remote", "ftp://example.com/x.git", "scheme must be one of"),
        ("git_remote", "ssh://-oProxyCommand=touch/x", "must not start with '-'"),
        ("git_remote", "-oProxyCommand=x@host:repo", "must not start with '-'"),
        ("pr_api_url", "file:///etc/passwd", "must be an http:// or https:// address"),
        ("pr_api_url", "https://me:pw@api.github.com", "credentials inside the API URL are refused"),
        ("git_token_env", TOKEN + "-", "give the NAME of an environment variable"),
        ("git_token_env", "SECRET_KEY", "one of the app's own settings"),
    ],
)
def test_the_validators_refuse_bad_settings(demo: Project, field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        configure(demo, **{field: value})
    assert message in " ".join(refused.value.message_dict[field])
    demo.refresh_from_db()
    assert getattr(demo, field) in ("", "none")


def test_pull_request_settings_must_fit_together(demo: Project, remote: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        configure(demo, pr_provider="github", pr_repository="acme")
    errors = refused.value.message_dict
    assert "on GitHub the repository is owner/name" in errors["pr_repository"][0]
    assert "needs a remote" in errors["git_remote"][0] and "needs a token" in errors["git_token_env"][0]
    ok = configure(
        demo,
        git_remote=str(remote),
        pr_provider="gitlab",
        pr_repository="group/sub/shop",
        git_token_env="GL_TOKEN",
    )
    assert (ok.pr_provider, ok.pr_repository) == ("gitlab", "group/sub/shop")
    for url in (
        "git@github.com:acme/shop.git",
        "ssh://git@github.com/acme/shop.git",
        "https://github.com/a/b.git",
    ):
        assert configure(demo, git_remote=url).git_remote == url
