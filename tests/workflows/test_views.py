from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.urls import reverse

from tests.workflows.engine.conftest import drain
from workflows.engine.journal import event_append
from workflows.models import Run, WorkflowTemplate

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_the_project_page_lists_specs_with_their_next_step(client, team_users, project):
    client.force_login(team_users.viewer)
    body = client.get(reverse("project_detail", args=["acme-web"])).content.decode()
    assert "spec-core-001-authentication" in body and "sync_tasks_checkboxes" in body
    assert "spec-feature-002-orders" in body and "generate_plan" in body
    assert "Run autopilot" not in body  # viewers cannot start runs


def test_the_spec_page_shows_every_task_with_its_verification(client, team_users, project):
    client.force_login(team_users.member)
    response = client.get(reverse("spec_detail", args=["acme-web", "spec-core-001-authentication"]))
    body = response.content.decode()
    for task, status in [
        ("TSK-AUTH-001", "verified"),
        ("TSK-AUTH-003", "not_verified"),
        ("T006", "needs_manual"),
        ("T007", "missing_evidence"),
        ("T008", "invalid_scope"),
        ("T009", "invalid_evidence"),
    ]:
        assert f'data-task="{task}"' in body and status in body
    assert "sync_tasks_checkboxes" in body


def test_spec_markdown_is_sanitised(client, team_users, project, workspace):
    spec = workspace / "specs" / "spec-feature-002-orders" / "spec.md"
    spec.write_text("# Orders\n\n<script>alert(1)</script>\n\n[x](javascript:alert(2)) **bold**\n")
    client.force_login(team_users.member)
    body = client.get(reverse("spec_detail", args=["acme-web", "spec-feature-002-orders"])).content.decode()
    assert "<strong>bold</strong>" in body
    assert "<script>alert(1)" not in body
    assert 'href="javascript' not in body


def test_an_unknown_spec_is_a_clear_404(client, team_users, project):
    client.force_login(team_users.member)
    response = client.get(reverse("spec_detail", args=["acme-web", "spec-nope"]))
    assert response.status_code == 404 and "spec-nope" in response.content.decode()


def test_a_member_starts_the_autopilot_from_the_page_and_a_viewer_cannot(client, team_users, project):
    client.force_login(team_users.viewer)
    url = reverse("run_create", args=["acme-web"])
    assert client.post(url, {"spec_id": "spec-feature-002-orders"}).status_code == 403
    assert not Run.objects.exists()
    client.force_login(team_users.member)
    response = client.post(url, {"spec_id": "spec-feature-002-orders", "workflow": "autopilot"})
    run = Run.objects.get()
    assert response["Location"] == reverse("run_detail", args=[run.pk])
    assert run.workflow_name == "autopilot" and run.started_by == team_users.member


def test_a_bad_spec_id_from_the_page_changes_nothing(client, team_users, project):
    client.force_login(team_users.member)
    response = client.post(reverse("run_create", args=["acme-web"]), {"spec_id": "../../etc"}, follow=True)
    assert "is not a spec id" in response.content.decode()
    assert not Run.objects.exists()


def test_the_run_page_renders_steps_events_and_controls(client, team_users, project):
    client.force_login(team_users.member)
    client.post(
        reverse("run_create", args=["acme-web"]),
        {"spec_id": "spec-core-001-authentication", "workflow": "development-loop"},
    )
    run = drain(Run.objects.get())
    body = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert 'data-step="status-1"' in body and 'data-step="sync-1"' in body
    assert f'data-last-seq="{run.last_seq}"' in body
    assert body.count("<li data-seq=") == run.last_seq
    live = client.get(reverse("run_detail", args=[run.pk]) + "?partial=live").content.decode()
    assert live.startswith('\n<div id="run-live"') or 'id="run-live"' in live[:200]


def test_an_event_written_while_the_page_renders_is_shown_once(client, team_users, project):
    """The page follows on from the last event it lists, not from the run row read before them."""
    client.force_login(team_users.member)
    client.post(reverse("run_create", args=["acme-web"]), {"spec_id": "spec-core-001-authentication"})
    run = drain(Run.objects.get())
    written = []

    def worker_writes_between_reads(execute, sql, params, many, context):
        # A worker appends an event just before the page reads the run's events.
        if not written and 'FROM "workflows_event"' in sql and "ORDER BY" in sql:
            written.append(True)
            with transaction.atomic():
                event_append(run_id=run.pk, type="run.note", data={"text": "late"})
        return execute(sql, params, many, context)

    with connection.execute_wrapper(worker_writes_between_reads):
        body = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert written
    run.refresh_from_db()
    assert f'data-last-seq="{run.last_seq}"' in body
    assert body.count("<li data-seq=") == run.last_seq


def test_run_controls_from_the_page(client, team_users, project):
    client.force_login(team_users.member)
    client.post(
        reverse("run_create", args=["acme-web"]),
        {"spec_id": "spec-core-001-authentication", "workflow": "verify-and-sync"},
    )
    run = Run.objects.get()
    client.force_login(team_users.viewer)
    assert client.post(reverse("run_cancel", args=[run.pk])).status_code == 403
    client.force_login(team_users.member)
    client.post(reverse("run_cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == "cancelled"
    response = client.post(reverse("run_resume", args=[run.pk]), follow=True)
    assert "Only a failed run can be resumed" in response.content.decode()
    client.post(reverse("run_retry", args=[run.pk]))
    run.refresh_from_db()
    assert run.status in ("queued", "running")


def test_another_teams_run_is_404(client, team_users, project):
    client.force_login(team_users.member)
    client.post(
        reverse("run_create", args=["acme-web"]),
        {"spec_id": "spec-core-001-authentication", "workflow": "development-loop"},
    )
    run = Run.objects.get()
    client.force_login(team_users.outsider)
    assert client.get(reverse("run_detail", args=[run.pk])).status_code == 404
    assert client.post(reverse("run_cancel", args=[run.pk])).status_code == 404


def test_the_command_box_previews_then_does_it(client, team_users, project):
    client.force_login(team_users.member)
    url = reverse("command", args=["acme-web"])
    preview = client.post(url, {"text": "run autopilot on core-001"}).content.decode()
    assert "spec-core-001-authentication" in preview and "Do it" in preview
    assert not Run.objects.exists()
    response = client.post(url, {"text": "run autopilot on core-001", "confirm": "1"})
    run = Run.objects.get()
    assert response["Location"] == reverse("run_detail", args=[run.pk])
    assert run.spec_id == "spec-core-001-authentication" and run.workflow_name == "autopilot"


def test_the_command_box_understands_thai_and_refuses_viewers(client, team_users, project):
    client.force_login(team_users.viewer)
    url = reverse("command", args=["acme-web"])
    preview = client.post(url, {"text": "รัน autopilot spec-core-001-authentication"}).content.decode()
    assert "Do it" not in preview
    response = client.post(url, {"text": "รัน spec-core-001-authentication", "confirm": "1"})
    assert "member role" in response.content.decode()
    assert not Run.objects.exists()
    empty = client.post(url, {"text": "  "}).content.decode()
    assert "Type what you want" in empty


def test_the_workflows_page_shows_validation_errors_inline(client, team_users):
    client.force_login(team_users.admin)
    bad = "name: broken\nsteps:\n  - id: a\n    uses: teleport\n  - id: b\n    uses: noop\n    needs: [zzz]\n"
    response = client.post(reverse("workflows"), {"source": bad})
    body = response.content.decode()
    assert response.status_code == 422
    assert "unknown step kind" in body and "unknown step &#x27;zzz&#x27;" in body
    assert not WorkflowTemplate.objects.filter(name="broken").exists()
    good = "name: tiny\nsteps:\n  - id: a\n    uses: noop\n"
    response = client.post(reverse("workflows"), {"source": good})
    assert response["Location"] == reverse("workflow_detail", args=["tiny"])
    client.force_login(team_users.member)
    assert client.post(reverse("workflows"), {"source": good}).status_code == 403
    assert "tiny" in client.get(reverse("workflows")).content.decode()


def test_the_spec_and_project_pages_speak_the_readers_language(client, team_users, project):
    from accounts.models import Profile

    client.force_login(team_users.member)
    spec_page = reverse("spec_detail", args=["acme-web", "spec-core-001-authentication"])
    english = client.get(spec_page).content.decode()
    # English shows statuses in plain words, the API's name on hover, and the domain's own sentences.
    assert '<span class="badge bad" title="not_verified">not verified</span>' in english
    assert '<span class="badge warn" title="needs_manual">needs a manual check</span>' in english
    assert ">not_verified<" not in english and ">needs_manual<" not in english
    assert "<li>line 13: satisfied: symbol hash_password is defined in src/auth/passwords.py</li>" in english
    assert "<li>drift: checked, but not verified</li>" in english

    Profile.objects.create(user=team_users.member, language="th")
    thai = client.get(spec_page).content.decode()
    assert '<span class="badge bad" title="not_verified">ยังไม่ผ่านการยืนยัน</span>' in thai
    assert '<span class="badge warn" title="needs_manual">ต้องตรวจด้วยตนเอง</span>' in thai
    assert "<li>บรรทัด 13: ผ่าน: มีการนิยาม hash_password ใน src/auth/passwords.py</li>" in thai
    assert "<li>ไม่ตรงกัน: ติ๊กแล้ว แต่ยังไม่ผ่านการยืนยัน</li>" in thai
    for english_only in (">not_verified<", ">needs_manual<", "is defined in", "drift: checked"):
        assert english_only not in thai
    project_page = client.get(reverse("project_detail", args=["acme-web"])).content.decode()
    assert "กำลังดำเนินการ" in project_page and ">IN_PROGRESS<" not in project_page
    assert "ไม่มี plan.md" in project_page and "plan.md is missing" not in project_page
