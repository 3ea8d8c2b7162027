"""What a run changed on its git branch: GET /runs/{id}/changes and the run page's Changes.

A real git repository, the real demo agent, steps run as a worker runs them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from tests.git_repos import make_repo, sh
from tests.workflows.engine.conftest import drain
from tests.workflows.engine.test_git_runs import AUTH, AUTH_TASKS, autopilot
from workflows.engine import git_changes
from workflows.models import Project, Run

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def demo(data_dir) -> Project:
    call_command("seed_demo")
    return Project.objects.get(slug="demo")


@pytest.fixture
def git_run(demo: Project) -> Run:
    make_repo(Path(demo.workspace))
    return drain(autopilot(demo))


def member() -> User:
    return User.objects.get(username="demo-member")


def test_the_changes_api_answers_the_demo_agents_changes(git_run: Run, as_user, team_users) -> None:
    api = as_user(member())
    body = api.get(f"/runs/{git_run.pk}/changes").json()
    assert (body["run"], body["git"], body["branch"], body["base"]) == (
        git_run.pk, True, git_run.git_branch, git_run.git_base,
    )  # fmt: skip
    tasks = next(f for f in body["files"] if f["path"] == AUTH_TASKS)
    assert tasks["status"] == "modified" and not tasks["binary"] and not tasks["truncated"]
    assert tasks["additions"] > 0 and tasks["diff"].startswith("diff --git")
    assert any(line.startswith("+") and "TSK-AUTH" in line for line in tasks["diff"].splitlines())
    committed = [s for s in git_run.steps.order_by("id") if "git" in s.output]
    assert [(s["key"], s["parent"], s["commit"]) for s in body["steps"]] == [
        (s.key, s.output["git"]["parent"], s.output["git"]["commit"]) for s in committed
    ]
    # Every step's files come with their diffs (the page reads one at a time; the API all).
    assert all(f["diff"] for s in body["steps"] for f in s["files"] if not f["binary"])
    assert body["head"] == committed[-1].output["git"]["commit"]
    # ?step= answers that step's own commit only.
    one = committed[0]
    only = api.get(f"/runs/{git_run.pk}/changes", step=one.key).json()
    assert [s["key"] for s in only["steps"]] == [one.key] and only["files"] == []
    assert only["steps"][0]["files"]
    assert api.get(f"/runs/{git_run.pk}/changes", step="no-such-step").status_code == 404
    # ?diffs=false: the same files, named and counted, without their diffs.
    named = api.get(f"/runs/{git_run.pk}/changes", diffs="false").json()
    assert [f["path"] for f in named["files"]] == [f["path"] for f in body["files"]]
    assert [f["additions"] for f in named["files"]] == [f["additions"] for f in body["files"]]
    assert {f["diff"] for s in named["steps"] for f in s["files"]} | {f["diff"] for f in named["files"]} == {
        ""
    }
    assert api.get(f"/runs/{git_run.pk}/changes", diffs="perhaps").status_code == 422
    # Same permissions as the run itself.
    assert as_user(team_users.outsider).get(f"/runs/{git_run.pk}/changes").status_code == 404
    assert as_user(team_users.outsider).get(f"/runs/{git_run.pk}").status_code == 404


def test_a_run_without_git_answers_no_changes(demo: Project, as_user) -> None:
    call_command("seed_demo", "--reset-workspace", "--no-git")
    run = drain(autopilot(demo))
    body = as_user(member()).get(f"/runs/{run.pk}/changes").json()
    assert body["git"] is False and body["files"] == [] and body["steps"] == []


def test_the_run_page_shows_the_diff_escaped(git_run: Run, client, data_dir: Path) -> None:
    # One more commit on the run's branch, with markup and a binary file in it.
    repo = Path(git_run.project.workspace)
    extra = data_dir / "extra"
    sh("worktree", "add", str(extra), git_run.git_branch, cwd=repo)
    (extra / "evil.md").write_text("<script>alert(1)</script>\n")
    (extra / "logo.bin").write_bytes(b"\x00\x01\x02binary")
    sh("add", "--all", cwd=extra)
    sh("commit", "--quiet", "-m", "extra", cwd=extra)
    sh("worktree", "remove", "--force", str(extra), cwd=repo)

    client.force_login(member())
    page = client.get(f"/runs/{git_run.pk}/").content.decode()
    assert 'data-testid="changes"' in page and git_run.git_branch in page
    assert f'data-path="{AUTH_TASKS}"' in page
    assert 'class="diff-add"' in page and 'class="diff-hunk"' in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'data-path="logo.bin"' in page and "binary file" in page
    # Above the files: how many, and the lines added and deleted in all (the API's figures).
    files = git_changes.run_changes(git_run)["files"]
    added, deleted = sum(f["additions"] for f in files), sum(f["deletions"] for f in files)
    totals = re.search(r'data-testid="diff-totals">(.*?)</span></span>', page, flags=re.DOTALL)
    assert totals is not None
    assert re.sub(r"<[^>]+>", "", totals.group(1)) == f"{len(files)} files changed, +{added} −{deleted}"


def test_the_run_page_shows_one_steps_changes_or_the_whole_runs(git_run: Run, client) -> None:
    """?step= shows that step's commit only; the whole run's diff is one click away."""
    client.force_login(member())
    committed = [s for s in git_run.steps.order_by("id") if "git" in s.output]
    first = committed[0]
    whole = client.get(f"/runs/{git_run.pk}/").content.decode()
    for step in committed:
        assert f'href="?step={step.key}#changes" data-step="{step.key}"' in whole
    assert 'data-step="" aria-current="true"' in whole and 'data-testid="changes-shown"' not in whole
    step_files = set(re.findall(r'data-path="([^"]+)"', _diff_section(client, git_run, first.key)))
    expected = {f["path"] for f in git_changes.run_changes(git_run, first.key)["steps"][0]["files"]}
    assert step_files == expected and expected  # that commit's files, and only those
    page = client.get(f"/runs/{git_run.pk}/", {"step": first.key}).content.decode()
    assert f'data-step="{first.key}" aria-current="true"' in page
    assert f"Changes of step <code>{first.key}</code>" in page
    # The whole run touched more than the first commit did.
    assert set(re.findall(r'data-path="([^"]+)"', whole)) > step_files
    # A step that made no commit (or does not exist) is said, and the whole run is shown.
    odd = client.get(f"/runs/{git_run.pk}/", {"step": "<no-such-step>"})
    assert odd.status_code == 200
    body = odd.content.decode()
    assert "Step &lt;no-such-step&gt; made no commit in this run; the whole run" in body
    assert set(re.findall(r'data-path="([^"]+)"', body)) == set(re.findall(r'data-path="([^"]+)"', whole))


def test_the_reader_switches_the_diffs_to_side_by_side_and_the_choice_stays(git_run: Run, client) -> None:
    client.force_login(member())
    url = f"/runs/{git_run.pk}/"
    page = client.get(url).content.decode()
    assert '<pre class="diff">' in page and "diff-split" not in page
    assert '<strong aria-current="true" data-view="unified">' in page
    assert 'href="?diff=split#changes" data-view="split"' in page
    split = client.get(url, {"diff": "split"}).content.decode()
    assert split.count('<table class="diff-split">') == split.count('class="diff-file"') - split.count(
        "binary file"
    )
    assert '<pre class="diff">' not in split and '<td class="diff-num" data-new="1">1</td>' in split
    assert '<strong aria-current="true" data-view="split">' in split
    # The choice stays for the next page, one step's changes included, until changed back.
    first = next(s for s in git_run.steps.order_by("id") if "git" in s.output)
    one_step = client.get(url, {"step": first.key}).content.decode()
    assert (
        '<table class="diff-split">' in one_step and f"Changes of step <code>{first.key}</code>" in one_step
    )
    assert f'href="?step={first.key}&amp;diff=unified#changes"' in one_step
    assert '<pre class="diff">' in client.get(url, {"diff": "unified"}).content.decode()
    assert '<pre class="diff">' in client.get(url).content.decode()
    # A way of showing that does not exist changes nothing.
    odd = client.get(url, {"diff": "<sideways>"})
    assert odd.status_code == 200 and '<pre class="diff">' in odd.content.decode()


def _diff_section(client, run: Run, step: str) -> str:
    page = client.get(f"/runs/{run.pk}/", {"step": step}).content.decode()
    return page[page.index('data-testid="changes-shown"') :]


def test_the_project_page_says_whether_runs_work_on_git(demo: Project, client) -> None:
    call_command("seed_demo", "--reset-workspace", "--no-git")
    client.force_login(member())
    page = client.get(f"/projects/{demo.slug}/").content.decode()
    assert "not a git repository: agent changes are written straight into the workspace" in page
    make_repo(Path(demo.workspace))
    page = client.get(f"/projects/{demo.slug}/").content.decode()
    assert "git repository: each run works on its own branch" in page and "not a git repository" not in page


def test_the_pages_say_which_uncommitted_files_a_run_would_not_see(demo: Project, client) -> None:
    call_command("seed_demo", "--reset-workspace", "--no-git")
    repo = Path(demo.workspace)
    client.force_login(member())
    project_url, spec_url = f"/projects/{demo.slug}/", f"/projects/{demo.slug}/specs/{AUTH}/"
    (repo / "scratch.txt").write_text("not a repository yet\n")
    assert 'data-testid="uncommitted"' not in client.get(project_url).content.decode()
    (repo / "scratch.txt").unlink()
    make_repo(repo)
    # A clean workspace: nothing to say.
    assert 'data-testid="uncommitted"' not in client.get(project_url).content.decode()
    assert 'data-testid="uncommitted"' not in client.get(spec_url).content.decode()
    # Someone edits the spec's tasks and adds a file outside it, and commits neither.
    tasks = repo / AUTH_TASKS
    tasks.write_text(tasks.read_text() + "\n- [ ] TSK-AUTH-009 One more task\n")
    (repo / "notes.txt").write_text("draft\n")
    project_page = client.get(project_url).content.decode()
    assert (
        f"2 files of the workspace differ from its last commit ({AUTH_TASKS}, notes.txt): runs start "
        "from the last commit of <code>main</code> and do not see the changes" in project_page
    )
    spec_page = client.get(spec_url).content.decode()
    assert (
        f"1 file of this spec differs from the last commit ({AUTH_TASKS}): a run starts from the last "
        "commit of <code>main</code> and does not see the change; commit it first." in spec_page
    )
    # Reading them changed nothing: the file is still uncommitted, the index untouched.
    assert sh("status", "--porcelain", cwd=repo).split() == ["M", AUTH_TASKS, "??", "notes.txt"]
    sh("add", "--all", cwd=repo)
    sh("commit", "--quiet", "-m", "tasks", cwd=repo)
    assert 'data-testid="uncommitted"' not in client.get(spec_url).content.decode()
    # Past five files, the first five are named.
    for n in range(6):
        (repo / f"draft{n}.txt").write_text("draft\n")
    names = ", ".join(f"draft{n}.txt" for n in range(5))
    assert (
        f"6 files of the workspace differ from its last commit ({names}, …)"
        in client.get(project_url).content.decode()
    )
