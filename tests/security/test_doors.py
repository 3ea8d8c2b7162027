"""The same request through every door (page, API, email link, admin, engine) meets the
same refusal, because each rule lives once in the service or selector all doors call.

Each case here was open before the rule moved there: a workspace at the data directory or
swapped for a symlink, another team's template, a demoted, removed or deactivated
approver deciding through the link, a decision after the deadline.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Role
from tests.conftest import FIXTURES
from tests.workflows.engine.conftest import drain, start, template
from workflows.engine.approval_mail import link_token
from workflows.models import ApprovalEntry, ApprovalGate, Project, Run, WorkflowTemplate
from workflows.services.templates import template_save

pytestmark = pytest.mark.django_db

SPEC = "spec-core-001-authentication"


def browser_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def staff_admin(team_users):
    team_users.admin.is_staff = team_users.admin.is_superuser = True
    team_users.admin.save()
    return browser_of(team_users.admin)


# --- 1. workspace confinement ----------------------------------------------------------------


def refused_workspaces(data_dir: Path, project: Project) -> dict[str, str]:
    (data_dir / "cache").mkdir(exist_ok=True)
    inside = Path(project.workspace) / "specs"
    return {
        "the data directory": str(data_dir),
        "its cache": str(data_dir / "cache"),
        "the workspaces folder itself": str(data_dir / "workspaces"),
        "another project's workspace": project.workspace,
        "inside another project's workspace": str(inside),
        "above another project's workspace": str(Path(project.workspace).parent),
        "a NUL in the path": str(data_dir / "workspaces" / "a\x00b"),
    }


def test_a_workspace_where_it_may_not_be_is_refused_by_the_api_and_the_admin(
    as_user, team_users, project, data_dir
):
    admin_browser = staff_admin(team_users)
    for why, workspace in refused_workspaces(data_dir, project).items():
        body = {"team": "acme", "slug": "sneaky", "name": "Sneaky", "workspace": workspace}
        response = as_user(team_users.admin).post("/projects", body)
        assert response.status_code == 422, why
        assert response.json()["code"] == "workspace_not_allowed", why
        page = admin_browser.post(
            "/admin/workflows/project/add/",
            {**body, "team": team_users.team.pk, "shell_allowlist": "[]", "quality_thresholds": "{}"},
        )
        assert page.status_code == 200, why  # the form again, with the error
        assert "errorlist" in page.content.decode(), why
        assert not Project.objects.filter(slug="sneaky").exists(), why


def fresh_project_form(team_users: Any, data_dir: Path) -> dict[str, Any]:
    """The admin's form adding the project "fresh", its workspace a new directory that passes."""
    target = data_dir / "workspaces" / "fresh"
    target.mkdir(parents=True)
    return {
        "team": team_users.team.pk,
        "slug": "fresh",
        "name": "Fresh",
        "workspace": str(target),
        "shell_allowlist": "[]",
        "quality_thresholds": "{}",
        "test_command": "python -m pytest -q",
        "spec_format": "auto",
        "implicit_evidence": "auto",
        "source_roots": "[]",
        "merge_strategy": "merge_commit",
        "created_at_0": "2026-01-01",
        "created_at_1": "00:00:00",
    }


def test_the_admin_saves_a_workspace_that_passes(team_users, data_dir):
    form = fresh_project_form(team_users, data_dir)
    response = staff_admin(team_users).post("/admin/workflows/project/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Project.objects.get(slug="fresh").workspace == form["workspace"]


def swap_for_symlink(project: Project, data_dir: Path) -> Path:
    """Swap the project's workspace for a symlink to another directory; returns that one."""
    elsewhere = data_dir / "workspaces" / "elsewhere"
    shutil.copytree(FIXTURES / "workspaces" / "basic", elsewhere)
    original = Path(project.workspace)
    shutil.rmtree(original)
    os.symlink(elsewhere, original)
    return elsewhere


@pytest.fixture
def swapped(project, data_dir) -> Path:
    return swap_for_symlink(project, data_dir)


def test_a_workspace_swapped_for_a_symlink_is_refused_by_every_door(as_user, team_users, project, swapped):
    api = as_user(team_users.member)
    response = api.get("/projects/acme-web/specs")
    assert response.status_code == 409
    assert "now leads elsewhere" in response.json()["detail"]
    assert api.get(f"/projects/acme-web/specs/{SPEC}").status_code == 409
    assert api.post("/intents", {"text": "status", "project": "acme-web"}).status_code == 409

    page = browser_of(team_users.member).get("/projects/acme-web/")
    assert "now leads elsewhere" in page.content.decode()
    spec_page = browser_of(team_users.member).get(f"/projects/acme-web/specs/{SPEC}/")
    assert spec_page.status_code == 404 and "now leads elsewhere" in spec_page.content.decode()


def test_the_engine_refuses_a_swapped_workspace_and_writes_nothing_there(team_users, project, data_dir):
    steps = [
        {"id": "verify", "uses": "verify_tasks"},
        {"id": "write", "uses": "shell", "with": {"command": "python -c \"open('x','w')\""}},
    ]
    run = start(project, template(name="touch", steps=steps), spec_id=SPEC)
    swapped = swap_for_symlink(project, data_dir)
    before = sorted(p.relative_to(swapped) for p in swapped.rglob("*"))
    run = drain(run)
    assert run.status == Run.Status.FAILED
    for step in run.steps.all():
        assert step.status == "failed"
        assert "now leads elsewhere" in step.error, step.error
    assert sorted(p.relative_to(swapped) for p in swapped.rglob("*")) == before


# --- 3. templates belong to a team ----------------------------------------------------------


@pytest.fixture
def acme_template(team_users):
    return template_save(
        data={"name": "acme-flow", "steps": [{"id": "a", "uses": "noop"}]},
        team=team_users.team,
        created_by=team_users.admin,
        channel="api",
    )


NEW_VERSION = "name: acme-flow\nsteps:\n  - id: b\n    uses: noop\n"


def test_another_teams_admin_cannot_change_a_template_through_any_door(as_user, team_users, acme_template):
    outsider = team_users.outsider  # admin of Globex
    api = as_user(outsider).post("/workflows", NEW_VERSION, content_type="application/yaml")
    assert api.status_code == 403
    page = browser_of(outsider).post("/workflows/", {"source": NEW_VERSION})
    assert page.status_code == 403
    assert "another team" in page.content.decode()
    admin = browser_of(outsider).get(f"/admin/workflows/workflowtemplate/{acme_template.template_id}/change/")
    assert admin.status_code == 403  # not staff: the console is not theirs (a page saying so)
    template = WorkflowTemplate.objects.get(name="acme-flow")
    assert template.versions.count() == 1 and template.team == team_users.team


def test_only_staff_change_a_built_in_template_through_any_door(as_user, team_users, db):
    template_save(
        data={"name": "shipped", "steps": [{"id": "a", "uses": "noop"}]},
        created_by=None,
        channel="system",
        builtin=True,
    )
    changed = "name: shipped\nsteps:\n  - id: z\n    uses: noop\n"
    api = as_user(team_users.admin).post("/workflows", changed, content_type="application/yaml")
    assert api.status_code == 403
    page = browser_of(team_users.admin).post("/workflows/", {"source": changed})
    assert page.status_code == 403
    assert WorkflowTemplate.objects.get(name="shipped").versions.count() == 1
    staff = staff_admin(team_users).post("/workflows/", {"source": changed, "team": ""})
    assert staff.status_code == 302
    assert WorkflowTemplate.objects.get(name="shipped").versions.count() == 2


def test_a_team_sees_and_runs_only_its_own_and_shared_templates(as_user, team_users, project, acme_template):
    globex_flow = template_save(
        data={"name": "globex-flow", "steps": [{"id": "a", "uses": "noop"}]},
        team=team_users.other_team,
        created_by=team_users.outsider,
        channel="api",
    )
    member = as_user(team_users.member)
    names = [t["name"] for t in member.get("/workflows").json()["items"]]
    assert "acme-flow" in names and "globex-flow" not in names
    assert member.get("/workflows/globex-flow").status_code == 404
    assert browser_of(team_users.member).get("/workflows/globex-flow/").status_code == 404

    refused = member.post("/runs", {"project": "acme-web", "workflow": "globex-flow"})
    assert refused.status_code == 422
    page = browser_of(team_users.member).post(
        "/projects/acme-web/runs/", {"workflow": "globex-flow", "spec_id": ""}, follow=True
    )
    assert "no workflow named" in page.content.decode().lower()
    from workflows.services.errors import RunError
    from workflows.services.runs import run_start

    with pytest.raises(RunError):
        run_start(project=project, version=globex_flow, started_by=team_users.member, channel="web")
    assert not Run.objects.filter(workflow_name="globex-flow").exists()
    assert member.post("/runs", {"project": "acme-web", "workflow": "acme-flow"}).status_code == 201


# --- 4. gate decisions: one rule for page, email link and API --------------------------------


def decide_everywhere(gate: ApprovalGate, user, as_user) -> dict[str, int]:
    """Try to approve through each door; the status code each answered."""
    invitation = gate.invitations.get(user=user)
    token = link_token(invitation)
    results = {}
    link = Client().post(reverse("approval_link", args=[token]), {"verdict": "approve"})
    results["link"] = link.status_code
    page = browser_of(user).post(f"/approvals/{gate.pk}/", {"verdict": "approve"})
    results["page"] = page.status_code
    api = as_user(user).post(f"/approvals/{gate.pk}/decisions", {"verdict": "approve"})
    results["api"] = api.status_code
    return results


def assert_untouched(gate: ApprovalGate) -> None:
    gate.refresh_from_db()
    assert gate.status == ApprovalGate.Status.PENDING
    assert not gate.entries.filter(kind__in=["approve", "reject"]).exists()


@pytest.mark.parametrize("change", ["demoted to viewer", "removed from the team", "deactivated"])
def test_an_approver_who_lost_the_right_cannot_decide_through_any_door(
    as_user, team_users, open_gate, change
):
    gate = open_gate(approvers=["approver-user"])
    approver = team_users.approver
    membership = Membership.objects.get(user=approver, team=team_users.team)
    if change == "demoted to viewer":
        Membership.objects.filter(pk=membership.pk).update(role=Role.VIEWER)
    elif change == "removed from the team":
        membership.delete()
    else:
        approver.is_active = False
        approver.save()
    results = decide_everywhere(gate, approver, as_user)
    assert results["link"] == 403, results
    assert results["page"] in (403, 404, 422, 302), results
    assert results["api"] in (401, 403, 404), results
    assert_untouched(gate)


def test_the_link_page_says_why_a_demoted_approver_cannot_decide(team_users, open_gate):
    gate = open_gate(approvers=["approver-user"])
    Membership.objects.filter(user=team_users.approver).update(role=Role.VIEWER)
    token = link_token(gate.invitations.get(user=team_users.approver))
    page = Client().get(reverse("approval_link", args=[token]))
    assert page.status_code == 403
    assert "Viewers cannot decide approvals" in page.content.decode()


def test_a_viewer_named_as_approver_is_not_invited(team_users, open_gate):
    gate = open_gate(approvers=["viewer-user", "approver-user"])
    assert list(gate.invitations.values_list("user__username", flat=True)) == ["approver-user"]


def test_nobody_decides_after_the_deadline_even_when_the_supervisor_is_late(as_user, team_users, open_gate):
    gate = open_gate(approvers=["approver-user"], timeout="1h")
    ApprovalGate.objects.filter(pk=gate.pk).update(deadline=timezone.now() - timedelta(seconds=5))
    gate.refresh_from_db()
    results = decide_everywhere(gate, team_users.approver, as_user)
    assert results == {"link": 403, "page": 422, "api": 409}, results
    assert_untouched(gate)


def test_an_approver_in_good_standing_still_decides(as_user, team_users, open_gate):
    gate = open_gate(approvers=["approver-user"])
    response = as_user(team_users.approver).post(f"/approvals/{gate.pk}/decisions", {"verdict": "approve"})
    assert response.status_code == 201
    gate.refresh_from_db()
    assert gate.status == ApprovalGate.Status.APPROVED


# --- 8 and 10. approval emails ---------------------------------------------------------------


@pytest.mark.django_db(databases="__all__")
def test_a_failed_email_leaves_the_gate_open_and_decidable(
    as_user, team_users, project, smtp_server, django_capture_on_commit_callbacks
):
    team_users.approver.email = "approver@example.com\nBcc: everyone@example.com"
    team_users.approver.save()
    steps = [
        {"id": "review", "uses": "approval", "with": {"approvers": ["approver-user"]}},
        {"id": "after", "uses": "noop", "needs": ["review"]},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        run = drain(start(project, template(name="mailed", steps=steps), team_users.member))
    assert run.status == Run.Status.WAITING
    gate = ApprovalGate.objects.get(run=run)
    assert gate.is_pending
    assert gate.entries.filter(kind=ApprovalEntry.Kind.SYSTEM, comment__contains="Could not email").exists()
    assert smtp_server == []
    with django_capture_on_commit_callbacks(execute=True):
        decided = as_user(team_users.approver).post(f"/approvals/{gate.pk}/decisions", {"verdict": "approve"})
    assert decided.status_code == 201
    assert drain(run).status == Run.Status.SUCCEEDED


@pytest.mark.django_db(databases="__all__")
def test_the_email_subject_is_plain_text_and_on_one_line(
    team_users, project, smtp_server, django_capture_on_commit_callbacks
):
    title = 'Ship <b>"R&D"</b> now'
    steps = [{"id": "review", "uses": "approval", "with": {"approvers": ["approver-user"], "title": title}}]
    with django_capture_on_commit_callbacks(execute=True):
        drain(start(project, template(name="subject", steps=steps), team_users.member))
    assert len(smtp_server) == 1
    message = smtp_server[0].message()
    assert message["Subject"] == f"[SmartSpec] Approval needed: {title}"
    assert title in smtp_server[0].text()
