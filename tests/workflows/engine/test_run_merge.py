"""Merging a finished run's branch into the branch it started from, from the run page or
`POST /runs/{id}/merge`, and publishing after a review gate's approval.

The demo project as `make run` seeds it (its workspace a git repository on `main`), the
demo agent, real git, steps run as a worker runs them, a bare repository as the remote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEntry
from tests.git_repos import sh
from tests.workflows.engine.conftest import drain
from tests.workflows.engine.test_git_runs import AUTH, AUTH_TASKS, autopilot
from tests.workflows.engine.test_review_gates import api, commit_on_main, decide, review_flow, user
from workflows.models import Event, ManualCheck, Project
from workflows.services.manual_checks import manual_check_record

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def demo(data_dir: Path) -> Project:
    call_command("seed_demo")
    return Project.objects.get(slug="demo")


def rev(repo: Path, ref: str) -> str:
    return sh("rev-parse", ref, cwd=repo).strip()


def member_page(project: Project) -> Client:
    client = Client()
    client.force_login(user(project, "demo-member"))
    return client


def test_a_finished_runs_branch_merges_into_main_from_the_api(demo: Project) -> None:
    repo = Path(demo.workspace)
    before = rev(repo, "main")
    run = drain(autopilot(demo))
    assert (run.status, run.outcome) == ("stopped", "needs_manual")
    head = rev(repo, run.git_branch)
    assert rev(repo, "main") == before  # nothing lands before someone merges it
    answer = api(user(demo, "demo-member")).post(f"/runs/{run.pk}/merge")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["run"] == run.pk and body["base_branch"] == "main" and body["strategy"] == "merge_commit"
    assert body["previous"] == before and body["nothing_to_merge"] is False
    # A merge commit on main with the run's head as its second parent; the workspace has
    # the agent's work and nothing uncommitted.
    assert rev(repo, "main") == body["commit"]
    assert sh("rev-parse", "main^1", "main^2", cwd=repo).split() == [before, head]
    assert sh("status", "--porcelain", cwd=repo) == ""
    assert (repo / AUTH_TASKS).read_text() == sh("show", f"{head}:{AUTH_TASKS}", cwd=repo)
    event = Event.objects.get(run=run, type="git.merged")
    assert event.data["commit"] == body["commit"] and "gate" not in event.data
    audit = AuditEntry.objects.get(action="workflows.run.merged")
    assert (audit.actor.username, audit.channel) == ("demo-member", "api")
    # Merging again changes nothing and says so.
    again = api(user(demo, "demo-member")).post(f"/runs/{run.pk}/merge").json()
    assert again["nothing_to_merge"] is True and rev(repo, "main") == body["commit"]


def test_a_conflict_is_shown_on_the_run_page_and_nothing_is_forced(demo: Project) -> None:
    repo = Path(demo.workspace)
    run = drain(autopilot(demo))
    main = commit_on_main(repo, AUTH_TASKS, "# Tasks\n\nrewritten on main meanwhile\n")
    page = member_page(demo).get(run.get_absolute_url()).content.decode()
    assert 'data-testid="merge-problem"' in page and f"<code>{AUTH_TASKS}</code>" in page
    assert 'data-testid="merge-confirm"' not in page
    answer = api(user(demo, "demo-member")).post(f"/runs/{run.pk}/merge")
    assert answer.status_code == 409 and answer.json()["code"] == "merge_refused"
    assert AUTH_TASKS in answer.json()["detail"] and "Nothing was merged" in answer.json()["detail"]
    # Through the page the same refusal, said on the page.
    response = member_page(demo).post(reverse("run_merge", args=[run.pk]), follow=True)
    assert "Not merged:" in response.content.decode() and AUTH_TASKS in response.content.decode()
    assert rev(repo, "main") == main and sh("status", "--porcelain", cwd=repo) == ""
    assert not Event.objects.filter(run=run, type="git.merged").exists()


def test_the_page_merges_and_the_next_run_goes_on_from_there(demo: Project) -> None:
    """The README's demo: the run stops on the manual task; a member merges its branch from
    the run page and records the check; the next run starts from the merged main and ends
    done, without doing the first run's work again."""
    repo = Path(demo.workspace)
    first = drain(autopilot(demo))
    client = member_page(demo)
    page = client.get(first.get_absolute_url()).content.decode()
    assert 'data-testid="merge-confirm"' in page and "Merge into main…" in page
    response = client.post(reverse("run_merge", args=[first.pk]), follow=True)
    page = response.content.decode()
    assert f"Merged {first.git_branch} into main." in page and 'data-testid="merged"' in page
    assert 'data-testid="merge-state"' in page  # main has every commit now: no button
    merged = rev(repo, "main")
    manual_check_record(
        project=demo, spec_id=AUTH, task_id="TSK-AUTH-006", note="checked the login page by hand",
        by=user(demo, "demo-member"), channel="web",
    )  # fmt: skip
    second = drain(autopilot(demo))
    assert (second.status, second.outcome) == ("succeeded", "done"), second.outcome_reason
    assert second.git_base == merged
    agent_steps = [s.step_id for s in second.steps.filter(kind="agent")]
    assert "implement-tasks" not in agent_steps  # the first run's implementation was kept
    assert ManualCheck.objects.filter(spec_id=AUTH).count() == 1


def test_who_may_merge_and_when(demo: Project) -> None:
    run = drain(autopilot(demo))
    viewer = api(user(demo, "demo-viewer")).post(f"/runs/{run.pk}/merge")
    assert viewer.status_code == 403
    waiting = review_flow(demo)  # waits at its review gate: that gate merges it
    answer = api(user(demo, "demo-member")).post(f"/runs/{waiting.pk}/merge")
    assert answer.status_code == 409 and "is still waiting" in answer.json()["detail"]
    call_command("seed_demo", "--reset-workspace", "--no-git")
    plain = drain(autopilot(demo))
    answer = api(user(demo, "demo-member")).post(f"/runs/{plain.pk}/merge")
    assert answer.status_code == 409 and "has no git branch" in answer.json()["detail"]
    viewer_page = Client()
    viewer_page.force_login(user(demo, "demo-viewer"))
    assert 'data-testid="merge-confirm"' not in viewer_page.get(run.get_absolute_url()).content.decode()


def test_an_approved_review_publishes_to_the_projects_remote(demo: Project, data_dir: Path) -> None:
    remote = data_dir / "workspaces" / "remotes" / "shop.git"
    remote.mkdir(parents=True)
    sh("init", "--quiet", "--bare", cwd=remote)
    Project.objects.filter(pk=demo.pk).update(git_remote=str(remote))
    demo.refresh_from_db()
    run = review_flow(demo)
    code, _ = decide("api", run.gates.get(), user(demo, "demo-approver"), "approve")
    assert code == 201
    run.refresh_from_db()
    heads = dict(
        reversed(line.split("\t"))
        for line in sh("ls-remote", "--heads", str(remote), cwd=remote).splitlines()
    )
    assert heads.get(f"refs/heads/{run.git_branch}") == rev(Path(demo.workspace), run.git_branch)
    assert run.pushed_at is not None
    published: Any = Event.objects.get(run=run, type="run.published").data
    assert published["branch"] == run.git_branch
    merged = Event.objects.get(run=run, type="git.merged").data
    assert merged["gate"] == run.gates.get().pk
