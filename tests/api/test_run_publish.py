"""Publishing through its doors: POST /runs/{id}/publish, PATCH /projects/{slug} with the git
settings, the run page's Publish button and the project page's settings.

A real run of the demo project as a git repository, a bare repository as the remote, a
loopback HTTP server as GitHub's API.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from tests.git_repos import make_repo, remote_heads, sh
from tests.loopback_http import Loopback, loopback_server
from tests.workflows.engine.conftest import drain
from tests.workflows.engine.test_git_publish import (
    TOKEN,
    TOKEN_ENV,
    assert_token_stored_nowhere,
    github_settings,
)
from tests.workflows.engine.test_git_runs import autopilot
from workflows.models import Project, Run

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def user(name: str) -> User:
    return User.objects.get(username=f"demo-{name}")


@pytest.fixture
def demo(data_dir: Path) -> Project:
    call_command("seed_demo")
    return Project.objects.get(slug="demo")


@pytest.fixture
def github() -> Iterator[Loopback]:
    with loopback_server(201, {"html_url": "https://github.example/acme/shop/pull/1"}) as server:
        yield server


@pytest.fixture
def git_run(demo: Project) -> Run:
    make_repo(Path(demo.workspace))
    return drain(autopilot(demo))


def test_an_admin_sets_the_git_settings_and_a_member_publishes_over_the_api(
    git_run: Run, remote: Path, github: Loopback, as_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    answer = as_user(user("admin")).patch("/projects/demo", github_settings(remote, github.url))
    assert answer.status_code == 200, answer.content
    assert answer.json()["git_remote"] == str(remote) and answer.json()["git_token_env"] == TOKEN_ENV

    published = as_user(user("member")).post(f"/runs/{git_run.pk}/publish")
    assert published.status_code == 200, published.content
    head = sh("rev-parse", git_run.git_branch, cwd=Path(git_run.project.workspace)).strip()
    assert published.json() == {
        "run": git_run.pk,
        "remote": str(remote),
        "branch": git_run.git_branch,
        "commit": head,
        "pull_request_url": "https://github.example/acme/shop/pull/1",
    }
    assert remote_heads(remote) == {git_run.git_branch: head}
    assert github.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    detail = as_user(user("viewer")).get(f"/runs/{git_run.pk}").json()
    assert detail["pull_request_url"] == "https://github.example/acme/shop/pull/1"
    assert detail["git_branch"] == git_run.git_branch and detail["pushed_at"]
    assert_token_stored_nowhere()


def test_who_may_publish(git_run: Run, remote: Path, as_user, team_users) -> None:
    Project.objects.filter(pk=git_run.project_id).update(git_remote=str(remote))
    path = f"/runs/{git_run.pk}/publish"
    anonymous = Client().post(f"/api/v1{path}", content_type="application/json")
    assert anonymous.status_code == 401
    viewer = as_user(user("viewer")).post(path)
    assert viewer.status_code == 403 and viewer.json()["code"] == "forbidden"
    outsider = as_user(team_users.outsider).post(path)
    assert outsider.status_code == 404
    assert remote_heads(remote) == {}


def test_publishing_a_run_without_a_branch_or_a_remote_answers_409(
    demo: Project, remote: Path, as_user
) -> None:
    call_command("seed_demo", "--reset-workspace", "--no-git")
    run = drain(autopilot(demo))  # the workspace is no git repository
    member = as_user(user("member"))
    no_remote = member.post(f"/runs/{run.pk}/publish")
    assert no_remote.status_code == 409
    assert "The project names no git remote" in no_remote.json()["detail"]
    Project.objects.filter(pk=demo.pk).update(git_remote=str(remote))
    no_branch = member.post(f"/runs/{run.pk}/publish")
    assert no_branch.status_code == 409 and no_branch.json()["code"] == "conflict"
    assert f"Run {run.pk} has no git branch" in no_branch.json()["detail"]


def test_the_providers_refusal_answers_502_with_its_message(
    git_run: Run, remote: Path, as_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with loopback_server(
        422, {"message": "Validation Failed", "errors": [{"message": "base is invalid"}]}
    ) as api:
        as_user(user("admin")).patch("/projects/demo", github_settings(remote, api.url))
        answer = as_user(user("member")).post(f"/runs/{git_run.pk}/publish")
    assert answer.status_code == 502 and answer.json()["code"] == "upstream"
    assert (
        "GitHub refused the pull request (422): Validation Failed: base is invalid" in answer.json()["detail"]
    )
    assert TOKEN not in answer.content.decode()


def test_credentials_in_the_remote_are_refused_over_the_api(demo: Project, as_user) -> None:
    answer = as_user(user("admin")).patch(
        "/projects/demo", {"git_remote": "https://bob:hunter2@github.com/a/b.git"}
    )
    assert answer.status_code == 422
    [error] = answer.json()["errors"]
    assert (
        error["field"] == "git_remote" and "credentials inside the remote URL are refused" in error["message"]
    )
    demo.refresh_from_db()
    assert demo.git_remote == ""
    # A member may not change them at all.
    assert as_user(user("member")).patch("/projects/demo", {"git_remote": "/x"}).status_code == 403


def test_the_pages_show_the_settings_and_publish(
    git_run: Run, remote: Path, github: Loopback, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    client.force_login(user("admin"))
    page = client.get("/projects/demo/").content.decode()
    assert "No remote: approved runs stay local." in page and 'data-testid="git-settings"' in page
    saved = client.post(
        "/projects/demo/git/", {"base_branch": "", **github_settings(remote, github.url)}, follow=True
    )
    assert "Saved: the git settings apply" in saved.content.decode()
    page = client.get("/projects/demo/").content.decode()
    assert (
        f"Approved runs are pushed to <code>{remote}</code> and a pull request is opened on GitHub "
        "(<code>acme/shop</code>)." in page
    )
    refused = client.post(
        "/projects/demo/git/",
        {**github_settings(remote, github.url), "git_remote": "ext::sh"},
        follow=True,
    ).content.decode()
    assert "remote helpers such as ext:: and fd:: are refused" in refused
    assert Project.objects.get(slug="demo").git_remote == str(remote)

    client.force_login(user("member"))
    run_page = client.get(f"/runs/{git_run.pk}/").content.decode()
    assert 'data-testid="publish-confirm"' in run_page and "open a pull request on GitHub" in run_page
    done = client.post(f"/runs/{git_run.pk}/publish/", follow=True).content.decode()
    assert "pull request: https://github.example/acme/shop/pull/1" in done
    assert 'href="https://github.example/acme/shop/pull/1"' in done and 'data-testid="pushed"' in done
    head = sh("rev-parse", git_run.git_branch, cwd=Path(git_run.project.workspace)).strip()
    assert remote_heads(remote) == {git_run.git_branch: head} and head != git_run.git_base

    client.force_login(user("viewer"))
    assert 'data-testid="publish-confirm"' not in client.get(f"/runs/{git_run.pk}/").content.decode()
    assert client.post(f"/runs/{git_run.pk}/publish/").status_code == 403


def test_the_admin_applies_the_same_rules(team_users, data_dir: Path) -> None:
    from tests.security.test_doors import fresh_project_form, staff_admin

    form = fresh_project_form(team_users, data_dir)
    browser = staff_admin(team_users)
    refused = browser.post(
        "/admin/workflows/project/add/",
        {**form, "git_remote": "https://bob:hunter2@example.com/a.git", "pr_provider": "github"},
    )
    page = refused.content.decode()
    assert refused.status_code == 200 and "credentials inside the remote URL are refused" in page
    assert "name the repository the pull request is opened on" in page
    assert not Project.objects.filter(slug="fresh").exists()
    saved = browser.post(
        "/admin/workflows/project/add/",
        {
            **form,
            "git_remote": "https://example.com/a.git",
            "pr_provider": "github",
            "pr_repository": "acme/a",
            "git_token_env": "ACME_GITHUB_TOKEN",
        },  # fmt: skip
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert Project.objects.get(slug="fresh").git_token_env == "ACME_GITHUB_TOKEN"
