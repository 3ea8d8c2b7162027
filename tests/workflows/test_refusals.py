"""A refusal is said once, by the service that refuses, as a sentence that remembers its
template (workflows.domain.texts.Text): the API answers its English, a page shows it in
the reader's language. No second list of the refusals' words exists anywhere."""

from __future__ import annotations

import ast
import html
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import pgettext

from accounts.models import Membership, Profile, Role
from accounts.services import token_create
from tests.processes import ROOT
from tests.security.test_doors import swap_for_symlink
from tests.workflows.engine.conftest import drain, start, template
from tests.workflows.engine.test_git_runs import AUTH_TASKS, autopilot
from tests.workflows.engine.test_review_gates import VIEWS, commit_on_main, review_flow
from workflows.engine.approval_mail import link_token
from workflows.models import ApprovalGate, ApprovalInvitation, Project, Run
from workflows.services import approvals, publishing
from workflows.services.runs import run_cancel
from workflows.services.template_lookups import template_version_for
from workflows.services.templates import template_save
from workflows.workspace_policy import workspace_roots

pytestmark = pytest.mark.django_db

SPEC = "spec-core-001-authentication"
NOOP = {"name": "noop-once", "steps": [{"id": "only", "uses": "noop"}]}

# The exceptions whose message a page shows (workflows/views catch them and show
# views.errors.refusal_text, or put their message inside a refusal of their own), and
# the modules that raise them. Git's own words are values inside our sentences.
REFUSALS = {
    "RunError",
    "ApprovalError",
    "MergeRefusal",
    "ManualCheckError",
    "TemplateForbidden",
    "PermissionDenied",
    "UnknownSpec",
    "WorkspaceNotAllowed",
    "GitError",
    "MergeRefused",
    "PublishError",
}
ENGINE = ROOT / "workflows" / "engine"
SOURCES = [
    *sorted((ROOT / "workflows" / "services").glob("*.py")),
    ROOT / "accounts" / "services.py",
    ROOT / "workflows" / "domain" / "workspace.py",
    ENGINE / "autopilot.py",  # the autopilot's settings, refused at the start
    ROOT / "workflows" / "workspace_policy.py",  # where a workspace, a worktree or a remote may be
    *sorted(ENGINE.glob("git_*.py")),  # the app's git: branches, merges, publishing
    ENGINE / "reviews.py",
    ENGINE / "parallel_join.py",
    # Why a step or a run failed, kept as a sentence for the run page.
    ENGINE / "worker.py",
    ENGINE / "scheduler.py",
    ENGINE / "fan_out.py",
    ENGINE / "worktree_turns.py",  # why a ready step waits, in its row on the run page
    ENGINE / "executors" / "approval.py",
    # A gate's history and outcome, which its page shows.
    ENGINE / "gates.py",
    ENGINE / "gate_notes.py",
    ENGINE / "approval_mail.py",
    # What a project may name as its remote and pull-request host, and how they fit together.
    ROOT / "workflows" / "domain" / "git_remotes.py",
    ROOT / "workflows" / "models" / "projects.py",
    ROOT / "workflows" / "domain" / "layouts.py",  # what a specs folder or a source root may be
]


def _name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def _calls(path: Path) -> list[ast.Call]:
    return [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)]


def _texts(path: Path) -> list[str]:
    """The templates of the sentences (Text("…", …)) a module writes."""
    return [
        call.args[0].value
        for call in _calls(path)
        if _name(call.func) == "Text" and call.args and isinstance(call.args[0], ast.Constant)
    ]


def test_no_refusal_a_page_shows_is_a_plain_string():
    plain, sentences = [], 0
    for path in SOURCES:
        for call in _calls(path):
            if _name(call.func) not in REFUSALS or not call.args:
                continue
            first = call.args[0]
            if isinstance(first, ast.Constant | ast.JoinedStr | ast.BinOp):
                plain.append(f"{path.relative_to(ROOT)}:{call.lineno}")
            elif isinstance(first, ast.Call) and _name(first.func) == "Text":
                sentences += 1
    assert plain == [], "raise these as Text(template, **values), with a Thai entry in django.po"
    assert sentences >= 80  # the walk finds the refusals it checks


def test_the_git_settings_rules_say_why_as_sentences():
    """The rules a project's git settings go through return their reason; a page shows it."""
    plain = []
    for path in (
        ROOT / "workflows" / "domain" / "git_remotes.py",
        ROOT / "workflows" / "models" / "projects.py",
    ):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.endswith(("_problem", "_problems")):
                for inner in ast.walk(node):
                    value = getattr(inner, "value", None)
                    written = isinstance(value, ast.JoinedStr) or (
                        isinstance(value, ast.Constant) and isinstance(value.value, str)
                    )
                    if isinstance(inner, ast.Return | ast.Assign) and written:
                        plain.append(f"{path.name}:{inner.lineno}")
    assert plain == [], "say these as Text(template, **values), with a Thai entry in django.po"


def test_every_refusal_has_a_thai_translation():
    templates = {t for path in SOURCES for t in _texts(path)}
    templates |= set(publishing.MERGE_ADVICE.values()) | set(approvals.APPROVE_MERGE_ADVICE.values())
    with translation.override("th"):
        untranslated = [
            t
            for t in sorted(templates)
            if re.search(r"[a-z]", re.sub(r"\{[^}]*\}", "", t)) and pgettext("spec", t) == t
        ]
    assert untranslated == []
    assert len(templates) > 100


@pytest.fixture
def thai(client, team_users):
    Profile.objects.create(user=team_users.member, language="th")
    client.force_login(team_users.member)
    return client


def api(user) -> Client:
    _, token = token_create(user=user, name="tests", channel="system")
    return Client(headers={"Authorization": f"Bearer {token}"})


def page_text(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def english_words(fragment: str) -> list[str]:
    """The English words of a sentence on a Thai page, leaving out what is quoted as it is:
    <code>, and tokens with - _ . / : @ # or digits (paths, branch and file names)."""
    text = re.sub(r"<code>.*?</code>|<[^>]+>", " ", fragment)
    tokens = [t for t in text.split() if not re.search(r"[-_./:@#0-9]", t)]
    return re.findall(r"[A-Za-z]{2,}", " ".join(tokens))


def shown(body: str, pattern: str) -> str:
    """The one element of the page `pattern` (a regex of its opening tag) finds, as HTML."""
    found = re.findall(pattern + r"(.*?)</(?:p|li)>", body, re.DOTALL)
    assert len(found) == 1, found
    return found[0]


def post_json(client: Client, path: str, body: dict[str, object]):
    return client.post(f"/api/v1{path}", json.dumps(body), content_type="application/json")


def test_resuming_a_run_that_did_not_fail(thai, team_users, project):
    run = start(project, template_save(data=NOOP, created_by=None, channel="system"), team_users.member)
    body = page_text(thai.post(reverse("run_resume", args=[run.pk]), follow=True))
    assert "ทำต่อได้เฉพาะรันที่ล้มเหลว รันนี้" in body and "Only a failed run" not in body
    run.refresh_from_db()
    answer = api(team_users.member).post(f"/api/v1/runs/{run.pk}/resume")
    assert answer.status_code == 409
    assert answer.json()["detail"] == f"Only a failed run can be resumed; this one is {run.status}."


def test_cancelling_a_run_twice(thai, team_users, project):
    run = start(project, template_save(data=NOOP, created_by=None, channel="system"), team_users.member)
    run_cancel(run=run, by=team_users.member, channel="web")
    body = page_text(thai.post(reverse("run_cancel", args=[run.pk]), follow=True))
    assert f"รัน {run.pk} " in body and "อยู่แล้ว" in body and "is already" not in body
    answer = api(team_users.member).post(f"/api/v1/runs/{run.pk}/cancel")
    assert answer.json()["detail"] == f"Run {run.pk} is already cancelled."


def test_starting_a_workflow_without_the_member_role(client, team_users, project):
    Profile.objects.create(user=team_users.viewer, language="th")
    client.force_login(team_users.viewer)
    body = page_text(
        client.post(reverse("command", args=[project.slug]), {"text": f"run {SPEC}", "confirm": "1"})
    )
    assert "การเริ่มเวิร์กโฟลว์ต้องมีบทบาทสมาชิก" in body and "needs the member role" not in body
    answer = post_json(
        api(team_users.viewer), "/intents", {"text": f"run {SPEC}", "project": project.slug, "execute": True}
    )
    assert answer.json()["detail"] == "Starting a workflow needs the member role."


def test_starting_on_a_spec_the_project_does_not_have(thai, team_users, project):
    template_save(
        data={"name": "check", "steps": [{"id": "v", "uses": "verify_tasks"}]},
        created_by=None,
        channel="system",
    )
    start_form = {"workflow": "check", "spec_id": "spec-core-999-nothing"}
    body = page_text(thai.post(reverse("run_create", args=[project.slug]), start_form, follow=True))
    assert "โปรเจกต์นี้ไม่มีสเปก 'spec-core-999-nothing'" in body and "has no spec" not in body
    answer = post_json(api(team_users.member), "/runs", {"project": project.slug, **start_form})
    assert answer.json()["detail"] == "The project has no spec 'spec-core-999-nothing'."
    assert not Run.objects.exists()


def test_starting_a_workflow_that_does_not_exist(client, thai, team_users, project):
    body = page_text(thai.post(reverse("run_create", args=[project.slug]), {"workflow": "nope"}, follow=True))
    assert "ไม่มีเวิร์กโฟลว์ชื่อ 'nope'" in body and "No workflow named" not in body
    answer = post_json(api(team_users.member), "/runs", {"project": project.slug, "workflow": "nope"})
    assert answer.json()["detail"] == "No workflow named 'nope'."
    english = Client()
    english.force_login(team_users.admin)
    body = page_text(
        english.post(reverse("run_create", args=[project.slug]), {"workflow": "nope"}, follow=True)
    )
    assert "No workflow named 'nope'." in body  # the English page says what the API says


def test_saving_a_workflow_under_another_teams_name(client, team_users):
    theirs = {"name": "theirs", "steps": [{"id": "a", "uses": "noop"}]}
    template_save(data=theirs, team=team_users.other_team, created_by=team_users.outsider, channel="web")
    Profile.objects.create(user=team_users.admin, language="th")
    client.force_login(team_users.admin)
    response = client.post(
        reverse("workflows"), {"source": "name: theirs\nsteps:\n  - id: b\n    uses: noop\n"}
    )
    assert response.status_code == 403
    body = html.unescape(response.content.decode())
    assert "ชื่อ 'theirs' เป็นของเทมเพลตของทีมอื่น" in body and "belongs to another team" not in body
    answer = api(team_users.admin).post(
        "/api/v1/workflows", "name: theirs\nsteps:\n  - id: b\n    uses: noop\n", "application/yaml"
    )
    assert (
        answer.json()["detail"]
        == "The name 'theirs' belongs to another team's template; choose another name."
    )


def test_a_thai_reader_sees_the_autopilot_settings_refused_in_thai(thai, project):
    assert template_version_for(project, "autopilot") is not None
    start_form = {"workflow": "autopilot", "spec_id": SPEC, "max_iterations": "500"}
    body = page_text(thai.post(reverse("run_create", args=[project.slug]), start_form, follow=True))
    assert "จำนวนรอบสูงสุด (max_iterations) ต้องเป็นจำนวนเต็มตั้งแต่ 1 ถึง 100" in body
    assert not Run.objects.exists()


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_an_approver_who_may_no_longer_decide_reads_why_in_thai_on_the_emailed_link(
    client, eproject, team_users
):
    gated = template(
        name="gated",
        steps=[{"id": "review", "uses": "approval", "with": {"approvers": ["role:approver"]}}],
    )
    run = drain(start(eproject, gated, team_users.member))
    assert run.status == "waiting"
    invitation = ApprovalInvitation.objects.get(gate__run=run, user=team_users.approver)
    Membership.objects.filter(user=team_users.approver).update(role=Role.VIEWER)
    url = reverse("approval_link", args=[link_token(invitation)])
    body = html.unescape(client.get(url, HTTP_ACCEPT_LANGUAGE="th").content.decode())
    assert "ผู้ชม (viewer) ตัดสินการอนุมัติไม่ได้ บทบาทของคุณในทีม Acme คือ viewer" in body
    assert "Viewers cannot decide" not in body
    answer = post_json(
        api(team_users.approver), f"/approvals/{invitation.gate_id}/decisions", {"verdict": "approve"}
    )
    assert answer.json()["detail"] == "Viewers cannot decide approvals; your role in Acme is viewer."


def test_a_thai_reader_sees_a_workspace_swapped_for_a_symlink_refused_in_thai(
    thai, team_users, project, data_dir
):
    swap_for_symlink(project, data_dir)
    leads_elsewhere = (
        f"The workspace {project.workspace!r} now leads elsewhere (a symlink was put in its place); "
        "fix it on the server or point the project at the real directory."
    )
    page = page_text(thai.get(reverse("project_detail", args=[project.slug])))
    said = shown(page, r'<p class="error" role="alert">')
    assert "ตอนนี้ชี้ไปที่อื่นแล้ว" in said and f"{project.workspace!r}" in said
    assert english_words(said) == []
    template_save(
        data={"name": "check", "steps": [{"id": "v", "uses": "verify_tasks"}]},
        created_by=None,
        channel="system",
    )
    start_form = {"workflow": "check", "spec_id": SPEC}
    page = page_text(thai.post(reverse("run_create", args=[project.slug]), start_form, follow=True))
    said = shown(page, r'<li class="msg msg-error">')
    assert said.startswith("ใช้พื้นที่ทำงานของโปรเจกต์ไม่ได้: เวิร์กสเปซ") and english_words(said) == []
    assert not Run.objects.exists()
    answer = post_json(api(team_users.member), "/runs", {"project": project.slug, **start_form})
    assert answer.status_code == 409
    assert answer.json()["detail"] == f"The project's workspace cannot be used: {leads_elsewhere}"


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_thai_reader_sees_a_merge_that_conflicts_refused_in_thai(client, data_dir):
    call_command("seed_demo")
    demo = Project.objects.get(slug="demo")
    member = demo.team.memberships.get(user__username="demo-member").user
    Profile.objects.update_or_create(user=member, defaults={"language": "th"})
    client.force_login(member)
    run = drain(autopilot(demo))
    commit_on_main(Path(demo.workspace), AUTH_TASKS, "# Tasks\n\nrewritten on main meanwhile\n")
    page = page_text(client.post(reverse("run_merge", args=[run.pk]), follow=True))
    said = shown(page, r'<li class="msg msg-error">')
    assert said.startswith(f"ไม่ได้ผสาน: การผสาน {run.git_branch} ถูกปฏิเสธ: {run.git_branch} ขัดแย้งกับ main ")
    assert AUTH_TASKS in said and "แก้ความขัดแย้ง" in said
    problem = shown(page, r'<p class="error" data-testid="merge-problem">')
    assert "ขัดแย้งกับ" in problem and AUTH_TASKS in problem
    assert [w for w in english_words(said) + english_words(problem) if w != "main"] == []
    answer = api(member).post(f"/api/v1/runs/{run.pk}/merge")
    assert answer.status_code == 409 and answer.json()["code"] == "merge_refused"
    assert answer.json()["detail"] == (
        f"Merging {run.git_branch} was refused: {run.git_branch} conflicts with main in {AUTH_TASKS}. "
        "Nothing was merged; resolve the conflict on the base branch (or in a new run), then merge again."
    )


def test_a_run_that_failed_on_a_swapped_workspace_says_why_in_thai_later(thai, team_users, project, data_dir):
    run = start(
        project, template(name="check", steps=[{"id": "verify", "uses": "verify_tasks"}]), spec_id=SPEC
    )
    swap_for_symlink(project, data_dir)
    run = drain(run)
    assert run.status == Run.Status.FAILED
    leads_elsewhere = (
        f"The workspace {project.workspace!r} now leads elsewhere (a symlink was put in its place); "
        "fix it on the server or point the project at the real directory."
    )
    # The English is kept as it was written (the API, the events); the template beside it.
    assert run.error == f"step verify: {leads_elsewhere}"
    assert run.outcome_reason == f"failed: {run.error}"
    assert run.steps.get().error == leads_elsewhere
    page = page_text(thai.get(run.get_absolute_url()))
    outcome = shown(page, r'<p class="outcome [^"]*" data-testid="run-outcome">')
    error = shown(page, r'<p class="error" data-testid="run-error">')
    step = re.findall(r'<span class="error">(.*?)</span>', page, re.DOTALL)
    assert len(step) == 1
    for said in (outcome, error, step[0]):
        assert "ตอนนี้ชี้ไปที่อื่นแล้ว" in said and english_words(said) == [], said
    assert error.startswith("ขั้นตอน verify: เวิร์กสเปซ")
    answer = api(team_users.member).get(f"/api/v1/runs/{run.pk}")
    assert answer.json()["error"] == run.error


def test_a_thai_admin_reads_why_a_remote_is_refused_in_thai(client, team_users, project):
    Profile.objects.create(user=team_users.admin, language="th")
    client.force_login(team_users.admin)
    settings = {"merge_strategy": "merge_commit", "git_remote": "/etc", "pr_provider": "none"}
    page = page_text(client.post(reverse("project_git", args=[project.slug]), settings, follow=True))
    said = shown(page, r'<li class="msg msg-error">')
    assert said.startswith("รีโมต git: รีโมต '/etc' ไม่ใช่ไดเรกทอรีที่แอป push ไปได้")
    assert [w for w in english_words(said) if w != "push"] == []  # git's verb, as the Thai pages say it
    project.refresh_from_db()
    assert project.git_remote == ""
    answer = api(team_users.admin).patch(
        f"/api/v1/projects/{project.slug}",
        json.dumps({"git_remote": "/etc"}),
        content_type="application/json",
    )
    listed = ", ".join(str(root) for root in workspace_roots())
    assert answer.status_code == 422 and answer.json()["errors"] == [
        {
            "field": "git_remote",
            "message": f"The remote '/etc' is not a directory the app may push to: it must lie below "
            f"the workspace roots ({listed}), outside the app's data and code.",
        }
    ]


@pytest.mark.parametrize(
    ("posted", "field", "thai", "english"),
    [
        (
            {"git_remote": "-upload-pack=evil"},
            "git_remote",
            "รีโมต git: รีโมตต้องไม่ขึ้นต้นด้วย '-' (git จะอ่านเป็นตัวเลือก)",
            "the remote must not start with '-' (git would read it as an option)",
        ),
        (
            {
                "git_remote": "https://example.com/acme/shop.git",
                "pr_provider": "github",
                "pr_repository": "acme",
                "git_token_env": "GITHUB_TOKEN",
            },
            "pr_repository",
            "บน GitHub ที่เก็บเขียนเป็น owner/name เช่น acme/shop",
            "on GitHub the repository is owner/name, e.g. acme/shop",
        ),
        (
            {"git_remote": "https://example.com/acme/shop.git", "git_token_env": "SECRET_KEY"},
            "git_token_env",
            "SECRET_KEY เป็นค่าตั้งของแอปเอง ไม่ใช่โทเค็นที่โปรเจกต์จะใช้ได้",
            "SECRET_KEY is one of the app's own settings, not a token a project may use",
        ),
    ],
)
def test_a_thai_admin_reads_why_git_settings_are_refused_in_thai(
    client, team_users, project, posted, field, thai, english
):
    Profile.objects.create(user=team_users.admin, language="th")
    client.force_login(team_users.admin)
    settings = {"merge_strategy": "merge_commit", "pr_provider": "none", **posted}
    page = page_text(client.post(reverse("project_git", args=[project.slug]), settings, follow=True))
    said = shown(page, r'<li class="msg msg-error">')
    assert thai in said, said
    project.refresh_from_db()
    assert (project.git_remote, project.pr_repository, project.git_token_env) == ("", "", "")
    answer = api(team_users.admin).patch(
        f"/api/v1/projects/{project.slug}", json.dumps(posted), content_type="application/json"
    )
    assert answer.status_code == 422
    assert {"field": field, "message": english} in answer.json()["errors"]


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_thai_approver_reads_why_approving_would_not_merge_in_thai(client, data_dir):
    call_command("seed_demo")
    demo = Project.objects.get(slug="demo")
    run = review_flow(demo)
    gate = ApprovalGate.objects.get(run=run, step__key="review")
    commit_on_main(Path(demo.workspace), VIEWS, "def login():\n    return 'changed on main meanwhile'\n")
    approver = demo.team.memberships.get(user__username="demo-approver").user
    Profile.objects.update_or_create(user=approver, defaults={"language": "th"})
    client.force_login(approver)
    response = client.post(reverse("approval_detail", args=[gate.pk]), {"verdict": "approve", "comment": ""})
    assert response.status_code == 422
    said = shown(html.unescape(response.content.decode()), r'<p class="error" role="alert">(?=การอนุมัติจะผสาน)')
    assert f"{run.git_branch} ขัดแย้งกับ main ในไฟล์ {VIEWS}" in said
    assert [w for w in english_words(said) if w != "main"] == []
    # The gate's history keeps the refused approval, in Thai on its page.
    history = page_text(client.get(reverse("approval_detail", args=[gate.pk])))
    note = shown(history, r'<li class="entry entry-system">.*?<p>(?=demo-approver)')
    assert "demo-approver อนุมัติ แต่การผสานถูกปฏิเสธ:" in note and "ด่านยังรอการตัดสินอยู่" in note
    assert [w for w in english_words(note) if w != "main"] == []
    answer = api(approver).post(
        f"/api/v1/approvals/{gate.pk}/decisions",
        json.dumps({"verdict": "approve"}),
        content_type="application/json",
    )
    assert answer.status_code == 409 and answer.json()["detail"] == (
        f"Approving would merge {run.git_branch}, but {run.git_branch} conflicts with main in {VIEWS}. "
        "Nothing was merged and the gate stays pending. Resolve the conflict on the base branch, or reject "
        "with a comment to send the work back to the agent."
    )
