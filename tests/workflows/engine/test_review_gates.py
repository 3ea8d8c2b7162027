"""Review after the agent: a review gate shows the agent step's diff and the verification
of the tasks it touched; approving merges the run's branch into the base branch (merge
commit or fast-forward, never forced); rejecting with a comment sends the work back.

The real demo project made a git repository, real git, the demo agent behind a stand-in
that keeps the prompt it was given (tests/workflows/engine/prompt_agent.py), steps run as
a worker runs them, decisions through the page, the REST API and the emailed link.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEntry
from accounts.services import token_create
from tests.api.conftest import ApiClient
from tests.git_repos import make_repo, sh
from tests.workflows.engine.conftest import drain, start, statuses, template
from tests.workflows.engine.parallel_project import autopilot_turn, git_project, tasks_after_a_setup_task
from workflows.engine import git_merge
from workflows.engine.approval_mail import link_token
from workflows.management.commands.seed_demo import DEMO_DIR
from workflows.models import ApprovalGate, Project, Run
from workflows.services.runs import run_start
from workflows.services.template_lookups import template_version_for

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("fresh_rate_counters"),
]

AUTH = "spec-core-001-authentication"
VIEWS = "src/auth/views.py"  # the file the demo agent changes for the auth spec's tasks
PROMPT_AGENT = Path(__file__).with_name("prompt_agent.py")


@pytest.fixture
def demo(data_dir: Path) -> Project:
    """The demo project, its workspace a git repository on `main`, its agent the demo agent
    behind the stand-in that keeps each prompt it receives."""
    call_command("seed_demo")
    project = Project.objects.get(slug="demo")
    make_repo(Path(project.workspace))
    project.agent_command = (
        f"{sys.executable} {PROMPT_AGENT} {DEMO_DIR / 'demo_agent.py'} --workflow {{workflow}} "
        "--spec-dir {spec_dir} --workspace {workspace} --pause 0"
    )
    project.save(update_fields=["agent_command"])
    return project


def user(project: Project, name: str) -> Any:
    return project.team.memberships.get(user__username=name).user


def api(person: Any) -> ApiClient:
    _, raw = token_create(user=person, name="tests", channel="system")
    return ApiClient(raw)


def implement_and_review(**review: Any) -> list[dict[str, Any]]:
    """The agent's step, then an approval that reviews its work."""
    return [
        {"id": "implement", "uses": "agent", "with": {"workflow": "implement_tasks"}},
        {
            "id": "review",
            "uses": "approval",
            "needs": ["implement"],
            "with": {"approvers": ["role:approver"], "review": "implement", **review},
        },
    ]


def review_flow(project: Project, **review: Any) -> Run:
    """implement → review (of implement) → verify, started by the demo member, drained to the gate."""
    text = template(
        name="implement-and-review",
        steps=[
            *implement_and_review(**review),
            {"id": "verify", "uses": "verify_tasks", "needs": ["review"]},
        ],
    )
    run = drain(start(project, text, user(project, "demo-member"), spec_id=AUTH))
    assert run.status == "waiting", run.error
    return run


def gate_of(run: Run, key: str = "review") -> ApprovalGate:
    return ApprovalGate.objects.get(run=run, step__key=key)


def repo_of(project: Project) -> Path:
    return Path(project.workspace)


def rev(repo: Path, ref: str) -> str:
    return sh("rev-parse", ref, cwd=repo).strip()


def commit_on_main(repo: Path, path: str, text: str) -> str:
    """Someone works on main meanwhile (in the workspace, where main is checked out)."""
    (repo / path).write_text(text)
    sh("add", "--all", cwd=repo)
    sh("commit", "--quiet", "-m", f"meanwhile: {path}", cwd=repo)
    return rev(repo, "main")


DECIDED = {"api": 201, "page": 302, "link": 200}  # what each door answers to a decision it took


def decide(door: str, gate: ApprovalGate, person: Any, verdict: str, comment: str = "") -> tuple[int, str]:
    """Decide through one door: (status code, text of the answer)."""
    body = {"verdict": verdict, "comment": comment}
    if door == "api":
        response = api(person).post(f"/approvals/{gate.pk}/decisions", body)
        return response.status_code, response.content.decode()
    if door == "page":
        client = Client()
        client.force_login(person)
        response = client.post(f"/approvals/{gate.pk}/", body)
        return response.status_code, response.content.decode()
    token = link_token(gate.invitations.get(user=person))
    response = Client().post(reverse("approval_link", args=[token]), body)
    return response.status_code, response.content.decode()


# --- what the gate shows --------------------------------------------------------------------


def test_a_review_gate_waits_with_the_steps_diff_and_its_tasks_verification(demo: Project) -> None:
    repo = repo_of(demo)
    base = rev(repo, "main")
    run = review_flow(demo)
    gate = gate_of(run)
    assert statuses(run) == {"implement": "succeeded", "review": "waiting", "verify": "pending"}
    # Nothing reached the base branch or the workspace yet.
    assert rev(repo, "main") == base and sh("status", "--porcelain", cwd=repo) == ""

    review = api(user(demo, "demo-approver")).get(f"/approvals/{gate.pk}").json()["review"]
    implement = run.steps.get(key="implement").output["git"]
    assert (review["step"], review["from_commit"], review["to_commit"]) == (
        "implement",
        implement["parent"],
        implement["commit"],
    )
    views = next(f for f in review["files"] if f["path"] == VIEWS)
    assert views["status"] == "modified" and "+# TSK-AUTH-003: ratelimit" in views["diff"]
    touched = {t["id"]: t for t in review["tasks"]}
    assert touched["TSK-AUTH-002"]["status"] == "verified"
    assert touched["TSK-AUTH-002"]["why"] == [f"its evidence changed: {VIEWS}"]
    assert "TSK-AUTH-001" not in touched  # its files did not change
    assert (review["verified"], review["total"]) == (5, 6)
    merge = review["merge"]
    assert merge["base_branch"] == "main" and merge["clean"] and merge["conflicts"] == []
    assert merge["commits"] == 1 and merge["strategy"] == "merge_commit" and merge["problem"] == ""
    assert (review["rework_left"], review["merged"]) == (2, None)

    client = Client()
    client.force_login(user(demo, "demo-approver"))
    page = client.get(f"/approvals/{gate.pk}/").content.decode()
    assert 'data-testid="review"' in page and f'data-path="{VIEWS}"' in page
    assert 'data-task="TSK-AUTH-002" data-status="verified"' in page
    assert "with a merge commit" in page and "Rejecting needs a comment" in page
    # The run page names the review without running git on every redraw.
    run_page = client.get(f"/runs/{run.pk}/?partial=live").content.decode()
    assert f"{len(review['files'])} files changed: see the diff on the gate" in run_page


def test_a_review_of_a_fan_out_shows_all_its_branches_work_and_the_tasks_they_were_given(
    demo: Project,
) -> None:
    repo = repo_of(demo)
    text = template(
        name="implement-each-and-review",
        steps=[
            {
                "id": "implement",
                "uses": "agent",
                "for_each": "pending_tasks",
                "with": {"workflow": "implement_tasks"},
            },
            {
                "id": "review",
                "uses": "approval",
                "needs": ["implement"],
                "with": {"approvers": ["role:approver"], "review": "implement"},
            },
        ],
    )
    run = drain(start(demo, text, user(demo, "demo-member"), spec_id=AUTH))
    assert run.status == "waiting", run.error
    branches = list(run.steps.filter(parent__key="implement").order_by("id"))
    commits = [b.output["git"] for b in branches]
    assert len(commits) == 3  # each branch committed (the stand-in keeps each prompt)
    review = api(user(demo, "demo-approver")).get(f"/approvals/{gate_of(run).pk}").json()["review"]
    assert review["from_commit"] == run.git_base == commits[0]["parent"]
    assert review["to_commit"] == rev(repo, run.git_branch)
    paths = {f["path"] for f in review["files"]}
    assert {"agent-prompts/1.md", "agent-prompts/2.md", "agent-prompts/3.md", VIEWS} <= paths
    named = {t["id"] for t in review["tasks"] if "named by the step" in t["why"]}
    assert named == {b.item for b in branches} == {"TSK-AUTH-003", "TSK-AUTH-005", "TSK-AUTH-006"}


def test_a_template_review_gate_is_validated(demo: Project) -> None:
    from workflows.domain.template_validation import TemplateInvalid, validate

    def problems(review_with: dict[str, Any], needs: list[str] | None = None) -> list[str]:
        doc = {
            "name": "x",
            "steps": [
                {"id": "write", "uses": "agent", "with": {"workflow": "implement_tasks"}},
                {"id": "check", "uses": "verify_tasks"},
                {
                    "id": "review",
                    "uses": "approval",
                    "needs": ["write", "check"] if needs is None else needs,
                    "with": {"approvers": ["role:approver"], **review_with},
                },
            ],
        }
        try:
            validate(doc)
        except TemplateInvalid as exc:
            return [str(p) for p in exc.problems]
        return []

    assert problems({"review": "write", "merge": "fast_forward", "rework_limit": 0}) == []
    assert problems({"review": "nope"}) == ["step 'review', with.review: unknown step 'nope'"]
    assert problems({"review": "check"}) == [
        "step 'review', with.review: 'check' is a verify_tasks step; a review gate reviews an agent step"
    ]
    assert problems({"review": "write"}, needs=["check"]) == [
        "step 'review', with.review: the gate must need the step it reviews: add 'write' to its needs"
    ]
    assert problems({"review": "write", "merge": "squash"}) == [
        "step 'review', with.merge: must be merge_commit or fast_forward"
    ]
    assert problems({"review": "write", "rework_limit": 11}) == [
        "step 'review', with.rework_limit: must be a whole number from 0 to 10"
    ]
    assert problems({"merge": "merge_commit"}) == [
        "step 'review', with.merge: only a review gate takes it: add review: <agent step>"
    ]


# --- approve: merge --------------------------------------------------------------------------


def test_approving_merges_with_a_merge_commit_and_the_run_goes_on(demo: Project) -> None:
    repo = repo_of(demo)
    base = rev(repo, "main")
    run = review_flow(demo)
    head = rev(repo, run.git_branch)
    status, _ = decide("api", gate_of(run), user(demo, "demo-approver"), "approve", "Looks right.")
    assert status == 201
    merged = rev(repo, "main")
    assert sh("log", "-1", "--format=%P|%an <%ae>|%s", "main", cwd=repo).strip() == (
        f"{base} {head}|SmartSpec Autopilot <autopilot@localhost>|Merge {run.git_branch} into main"
    )
    # main is checked out in the workspace: its files moved with it, and nothing is left over.
    assert sh("status", "--porcelain", cwd=repo) == ""
    assert "TSK-AUTH-003: ratelimit" in (repo / VIEWS).read_text()
    gate = gate_of(run)
    assert gate.status == "approved"
    assert gate.merge["commit"] == merged and gate.merge["previous"] == base
    assert gate.merge["strategy"] == "merge_commit" and gate.merge["head"] == head
    run = drain(run)
    assert run.status == "succeeded", run.error
    assert run.steps.get(key="review").output["merge"]["commit"] == merged
    event = run.events.get(type="git.merged")
    assert event.data["commit"] == merged and event.data["base_branch"] == "main"
    audit = AuditEntry.objects.get(action="workflows.run.merged")
    assert audit.actor.get_username() == "demo-approver" and audit.channel == "api"
    client = Client()
    client.force_login(user(demo, "demo-member"))
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-testid="merged"' in page and merged[:10] in page


def test_approving_fast_forwards_a_base_branch_that_is_not_checked_out(demo: Project) -> None:
    repo = repo_of(demo)
    response = api(user(demo, "demo-admin")).patch("/projects/demo", {"merge_strategy": "fast_forward"})
    assert response.status_code == 200 and response.json()["merge_strategy"] == "fast_forward"
    run = review_flow(demo)
    sh("checkout", "--quiet", "-b", "elsewhere", cwd=repo)  # main is no longer checked out
    head = rev(repo, run.git_branch)
    assert decide("page", gate_of(run), user(demo, "demo-approver"), "approve")[0] == 302
    assert rev(repo, "main") == head  # moved along, no merge commit
    assert sh("rev-parse", "--abbrev-ref", "HEAD", cwd=repo).strip() == "elsewhere"
    assert sh("status", "--porcelain", cwd=repo) == ""
    assert gate_of(run).merge["strategy"] == "fast_forward"
    assert drain(run).status == "succeeded"


def test_a_merge_commit_into_a_base_branch_that_is_not_checked_out_uses_no_checkout(demo: Project) -> None:
    repo = repo_of(demo)
    run = review_flow(demo, merge="merge_commit")
    sh("checkout", "--quiet", "-b", "elsewhere", cwd=repo)
    moved = commit_on_main_without_checkout(repo)
    assert decide("link", gate_of(run), user(demo, "demo-approver"), "approve")[0] == 200
    parents = sh("log", "-1", "--format=%P", "main", cwd=repo).split()
    assert parents == [moved, rev(repo, run.git_branch)]
    assert sh("show", f"main:{VIEWS}", cwd=repo) == (
        sh("show", f"{run.git_branch}:{VIEWS}", cwd=repo)
    )  # the branch's change is in
    assert "meanwhile" in sh("show", "main:NOTES.md", cwd=repo)  # and so is main's own
    assert not (repo / "NOTES.md").exists()  # the workspace's checkout was not touched


def commit_on_main_without_checkout(repo: Path) -> str:
    """A commit on main made while the workspace has another branch checked out (in a
    worktree of its own, gone again before anyone approves)."""
    elsewhere = repo.parent / "main-elsewhere"
    sh("worktree", "add", "--quiet", str(elsewhere), "main", cwd=repo)
    (elsewhere / "NOTES.md").write_text("meanwhile\n")
    sh("add", "--all", cwd=elsewhere)
    sh("commit", "--quiet", "-m", "meanwhile on main", cwd=elsewhere)
    sh("worktree", "remove", str(elsewhere), cwd=repo)
    return rev(repo, "main")


def test_a_fast_forward_that_is_not_possible_is_refused(demo: Project) -> None:
    repo = repo_of(demo)
    run = review_flow(demo, merge="fast_forward")
    moved = commit_on_main(repo, "NOTES.md", "meanwhile\n")
    status, text = decide("api", gate_of(run), user(demo, "demo-approver"), "approve")
    assert status == 409 and json.loads(text)["code"] == "merge_refused"
    assert "cannot be fast-forwarded" in json.loads(text)["detail"]
    assert rev(repo, "main") == moved and gate_of(run).status == "pending"


# --- conflicts: shown, never forced ----------------------------------------------------------


@pytest.mark.parametrize("door", ["page", "api", "link"])
def test_a_conflict_is_shown_and_the_approval_refused_without_forcing(demo: Project, door: str) -> None:
    repo = repo_of(demo)
    run = review_flow(demo)
    gate = gate_of(run)
    head = rev(repo, run.git_branch)
    moved = commit_on_main(repo, VIEWS, "def login():\n    return 'changed on main meanwhile'\n")
    approver = user(demo, "demo-approver")

    review = api(approver).get(f"/approvals/{gate.pk}").json()["review"]
    assert review["merge"]["clean"] is False and review["merge"]["conflicts"] == [VIEWS]
    assert review["merge"]["code"] == "conflict"
    client = Client()
    client.force_login(approver)
    page = client.get(f"/approvals/{gate.pk}/").content.decode()
    assert 'data-testid="review-conflicts"' in page and f"<li><code>{VIEWS}</code></li>" in page

    status, text = decide(door, gate, approver, "approve")
    assert status == {"page": 422, "api": 409, "link": 422}[door]
    assert f"conflicts with main in {VIEWS}" in text and "Nothing was merged" in text
    # Nothing forced, nothing half-done: main, the branch and the workspace are as they were.
    assert (rev(repo, "main"), rev(repo, run.git_branch)) == (moved, head)
    assert sh("status", "--porcelain", cwd=repo) == ""
    assert "<<<<<<<" not in (repo / VIEWS).read_text()
    gate.refresh_from_db()
    assert gate.status == "pending" and not gate.entries.filter(kind__in=["approve", "reject"]).exists()
    note = gate.entries.get(kind="system", comment__contains="merge was refused")
    assert VIEWS in note.comment
    assert run.events.filter(type="approval.merge_refused").count() == 1
    # The reviewers can still send it back.
    rejected = decide(door, gate, approver, "reject", "Rebase on main: views.py changed there.")
    assert rejected[0] == DECIDED[door]
    assert run.steps.filter(key="implement-rework-1").exists()


def test_a_workspace_with_changes_in_the_way_refuses_the_merge_naming_them(demo: Project) -> None:
    repo = repo_of(demo)
    run = review_flow(demo)
    approver = user(demo, "demo-approver")
    (repo / "README.md").write_text("work in progress\n")  # a tracked file changed
    prompt = f".spec/reports/implement-tasks/{run.pk}/implement-prompt.md"
    (repo / prompt).parent.mkdir(parents=True)
    (repo / prompt).write_text("mine\n")  # an untracked file where the merge writes one
    (repo / "scratch.txt").write_text("notes\n")  # an untracked file out of its way
    review = api(approver).get(f"/approvals/{gate_of(run).pk}").json()["review"]
    assert review["merge"]["code"] == "dirty" and review["merge"]["dirty"] == ["README.md", prompt]
    status, text = decide("api", gate_of(run), approver, "approve")
    assert status == 409 and f"uncommitted changes in README.md, {prompt}" in text
    assert (repo / "README.md").read_text() == "work in progress\n" and (
        repo / prompt
    ).read_text() == "mine\n"
    assert gate_of(run).status == "pending"
    sh("checkout", "--quiet", "--", "README.md", cwd=repo)
    (repo / prompt).unlink()
    assert decide("api", gate_of(run), approver, "approve")[0] == 201
    assert (repo / "scratch.txt").read_text() == "notes\n"  # left as it was
    assert sh("status", "--porcelain", cwd=repo) == "?? scratch.txt\n"


# --- reject: rework ------------------------------------------------------------------------------


def test_rejecting_with_a_comment_sends_it_to_the_agent_and_reviews_the_rework(demo: Project) -> None:
    repo = repo_of(demo)
    base = rev(repo, "main")
    run = review_flow(demo)
    first = rev(repo, run.git_branch)
    comment = "Please log every failed login with the user name."
    status, _ = decide("api", gate_of(run), user(demo, "demo-approver"), "reject", comment)
    assert status == 201
    review = run.steps.get(key="review")
    assert review.status == "succeeded" and review.output["decision"] == "rejected"
    assert (review.output["rework"], review.output["next_review"]) == (
        "implement-rework-1",
        "review-rework-1",
    )
    rework = run.steps.get(key="implement-rework-1")
    assert rework.kind == "agent" and rework.needs == ["review"] and comment in rework.config["prompt"]
    assert run.steps.get(key="verify").needs == ["review-rework-1"]
    assert run.events.filter(type="approval.rework").exists()

    run = drain(run)
    assert run.status == "waiting"
    assert statuses(run) == {
        "implement": "succeeded",
        "review": "succeeded",
        "implement-rework-1": "succeeded",
        "review-rework-1": "waiting",
        "verify": "pending",
    }
    # The agent got the reviewers' comment in its prompt, and worked on the same branch.
    rework = run.steps.get(key="implement-rework-1")
    assert rework.output["git"]["parent"] == first
    received = sh("show", f"{rework.output['git']['commit']}:agent-prompts/2.md", cwd=repo)
    assert comment in received and "demo-approver" in received and "Rework 1 of at most 2" in received
    # The new gate reviews the rework step.
    new_gate = gate_of(run, "review-rework-1")
    detail = api(user(demo, "demo-approver")).get(f"/approvals/{new_gate.pk}").json()["review"]
    assert detail["step"] == "implement-rework-1" and detail["rework_round"] == 1
    assert detail["rework_left"] == 1 and detail["to_commit"] == rework.output["git"]["commit"]
    assert rev(repo, "main") == base  # still nothing merged
    assert decide("api", new_gate, user(demo, "demo-approver"), "approve")[0] == 201
    assert rev(repo, "main") != base
    assert drain(run).status == "succeeded"


@pytest.mark.parametrize("door", ["page", "api", "link"])
def test_a_reject_without_a_comment_is_refused_while_rework_is_possible(demo: Project, door: str) -> None:
    run = review_flow(demo)
    status, text = decide(door, gate_of(run), user(demo, "demo-approver"), "reject", "  ")
    assert status == 422 and "Say what to change" in text
    assert gate_of(run).status == "pending"


def test_after_the_rework_limit_a_reject_fails_the_run_with_the_reason(demo: Project) -> None:
    repo = repo_of(demo)
    base = rev(repo, "main")
    run = review_flow(demo, rework_limit=1)
    approver = user(demo, "demo-approver")
    assert decide("api", gate_of(run), approver, "reject", "Handle empty passwords.")[0] == 201
    run = drain(run)
    last = gate_of(run, "review-rework-1")
    assert api(approver).get(f"/approvals/{last.pk}").json()["review"]["rework_left"] == 0
    # No rework left: a reject needs no comment and ends the run.
    assert decide("api", last, approver, "reject")[0] == 201
    run = drain(run)
    assert run.status == "failed"
    assert "the rework limit (1) is used up" in run.error and "review-rework-1" in run.error
    assert statuses(run)["verify"] == "skipped"
    assert rev(repo, "main") == base


def test_a_review_without_git_lets_the_run_go_on_and_shows_every_task(data_dir: Path) -> None:
    call_command("seed_demo", "--no-git")
    project = Project.objects.get(slug="demo")  # not a git repository
    text = template(name="implement-and-review", steps=implement_and_review())
    run = drain(start(project, text, user(project, "demo-member"), spec_id=AUTH))
    review = api(user(project, "demo-approver")).get(f"/approvals/{gate_of(run).pk}").json()["review"]
    assert review["git"] is False and review["merge"] is None and review["files"] == []
    assert len(review["tasks"]) == 6
    assert decide("api", gate_of(run), user(project, "demo-approver"), "approve")[0] == 201
    assert drain(run).status == "succeeded"


def test_a_deadline_that_approves_a_conflicting_review_rejects_it_saying_why(demo: Project) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from workflows.engine.gates import approvals_fire_timers

    repo = repo_of(demo)
    run = review_flow(demo, timeout="1h", on_timeout="approve", rework_limit=0)
    moved = commit_on_main(repo, VIEWS, "def login():\n    return 'changed on main'\n")
    ApprovalGate.objects.filter(run=run).update(deadline=timezone.now() - timedelta(seconds=1))
    approvals_fire_timers()
    gate = gate_of(run)
    assert gate.status == "rejected" and "the merge was refused" in gate.outcome and VIEWS in gate.outcome
    assert rev(repo, "main") == moved
    assert drain(run).status == "failed"


def test_merge_run_is_there_for_other_callers(demo: Project) -> None:
    repo = repo_of(demo)
    run = review_flow(demo)
    run.refresh_from_db()
    with pytest.raises(ValueError):
        git_merge.merge_run(run, "squash")
    sha = git_merge.merge_run(run, "fast_forward")
    assert sha == rev(repo, "main") == rev(repo, run.git_branch)
    assert git_merge.merge_run(run, "merge_commit") == sha  # merged already: nothing to do


# --- the autopilot's supervised mode ------------------------------------------------------------


def test_a_supervised_autopilot_on_a_new_spec_reviews_after_the_agent(demo: Project) -> None:
    repo = repo_of(demo)
    base = rev(repo, "main")
    approver = user(demo, "demo-approver")
    version = template_version_for(demo, "autopilot")
    spec = "spec-feature-009-wishlist"
    run = run_start(
        project=demo,
        version=version,
        spec_id=spec,
        params={"mode": "supervised", "max_iterations": 4},
        started_by=user(demo, "demo-member"),
        channel="web",
    )
    reviews_seen = []
    for _ in range(20):
        run = drain(run)
        if run.status != "waiting":
            break
        gate = ApprovalGate.objects.get(run=run, status="pending")
        if gate.step.config.get("review"):
            # Until a review is approved, the base branch and the workspace stay as they were.
            assert rev(repo, "main") == base and sh("status", "--porcelain", cwd=repo) == ""
            # One commit per step that changed files, each by the app.
            committed = [s.output["git"]["commit"] for s in run.steps.order_by("id") if "git" in s.output]
            log = sh("log", "--format=%H", "--reverse", f"{run.git_base}..{run.git_branch}", cwd=repo).split()
            assert log == committed
            reviewed = run.steps.get(key=gate.step.needs[0])
            assert reviewed.kind == "agent" and gate.step.config["review"] == reviewed.step_id
            status_after = run.steps.get(needs=[gate.step.key])
            assert status_after.kind == "status"
            reviews_seen.append(reviewed.config["workflow"])
        assert decide("api", gate, approver, "approve")[0] == 201
        if gate.step.config.get("review"):
            base = rev(repo, "main")
            assert sh("merge-base", "--is-ancestor", rev(repo, run.git_branch), "main", cwd=repo) == ""
    assert reviews_seen == ["generate_spec", "generate_plan", "generate_tasks", "implement_tasks"]
    keys = list(run.steps.order_by("position", "id").values_list("key", flat=True))
    turn = keys.index("implement-tasks-4")
    assert keys[turn - 1 : turn + 3] == ["approve-4", "implement-tasks-4", "review-4", "status-5"]


def test_a_supervised_autopilot_without_git_keeps_only_the_gate_before_the_agent(data_dir: Path) -> None:
    from workflows.engine.autopilot import steps_for

    call_command("seed_demo", "--no-git")
    project = Project.objects.get(slug="demo")
    version = template_version_for(project, "autopilot")
    run = run_start(
        project=project, version=version, spec_id=AUTH, params={"mode": "supervised"}, started_by=None,
        channel="web",
    )  # fmt: skip
    assert [kind for _, kind, _ in steps_for("implement_tasks", run, "supervised")] == ["approval", "agent"]
    Run.objects.filter(pk=run.pk).update(git_branch="smartspec/run-x")
    names = [(name, kind) for name, kind, _ in steps_for("implement_tasks", run, "supervised")]
    assert names == [("approve", "approval"), ("implement-tasks", "agent"), ("review", "approval")]
    assert [kind for _, kind, _ in steps_for("implement_tasks", run, "auto")] == ["agent"]


def test_a_supervised_turn_of_parallel_batches_is_reviewed_as_one(team_users, data_dir, settings) -> None:
    """The setup task, then two [P] tasks at once (tests/workflows/engine/test_parallel_tasks.py):
    one review after the last batch shows the work of both, and approving merges it all."""
    settings.STEP_SANDBOX = "none"
    project, repo, base, _ = git_project(team_users, data_dir, tasks_after_a_setup_task())
    run = autopilot_turn(project, started_by=team_users.member, mode="supervised")
    assert decide("api", gate_of(run, "approve-1"), team_users.approver, "approve")[0] == 201
    run = drain(run)
    keys = list(
        run.steps.filter(parent__isnull=True).order_by("position", "id").values_list("key", flat=True)
    )
    assert keys[keys.index("approve-1") :] == [
        "approve-1",
        "implement-tasks-1",
        "implement-tasks-b2-1",
        "review-1",
        "status-2",
    ]
    gate = gate_of(run, "review-1")
    review = api(team_users.approver).get(f"/approvals/{gate.pk}").json()["review"]
    assert review["steps"] == ["implement-tasks-1", "implement-tasks-b2-1"]
    assert review["from_commit"] == base and review["to_commit"] == rev(repo, run.git_branch)
    assert {"src/__init__.py", "src/alpha.py", "src/beta.py"} <= {f["path"] for f in review["files"]}
    named = {t["id"] for t in review["tasks"] if "named by the step" in t["why"]}
    assert named == {"TSK-SET-001", "TSK-PAR-001", "TSK-PAR-002"}
    assert rev(repo, "main") == base
    assert decide("api", gate, team_users.approver, "approve")[0] == 201
    assert sh("show", "main:src/beta.py", cwd=repo) == "BETA = 2\n"
    run = drain(run)
    assert run.steps.get(key="status-2").output["progress"]["open_tasks"] == []


def test_the_invitation_email_sums_up_what_the_step_under_review_changed(demo: Project, smtp_server) -> None:
    run = review_flow(demo)
    gate = gate_of(run)
    changed = gate.step.output["review"]["files"]
    assert changed, "the demo agent's step changed files"
    [mail] = [m for m in smtp_server if "approver@" in " ".join(m.rcpt_tos)]
    # The raw message: its 8-bit UTF-8 body as sent (the parsed one would mangle the "−").
    text = mail.content.replace("\r\n", "\n")
    added = sum(f["additions"] for f in changed)
    deleted = sum(f["deletions"] for f in changed)
    assert f"The step implement under review changed {len(changed)} files (+{added} −{deleted}):" in text
    for f in changed:
        assert f"  {f['path']} (+{f['additions']} −{f['deletions']})" in text
    review = gate.step.output["review"]
    assert f"{review['verified']} of {review['total']} tasks of the spec verified after it." in text
    assert f"<li><code>{changed[0]['path']}</code> (+{changed[0]['additions']} −" in text  # the HTML part
