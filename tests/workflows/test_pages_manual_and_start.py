"""The spec page: recording a manual check, the autopilot start form (mode, turn limit),
and the run button that shows the active run instead of starting another."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from workflows.models import ManualCheck, Project, Run

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

AUTH = "spec-core-001-authentication"


@pytest.fixture
def demo(data_dir) -> Project:
    call_command("seed_demo")
    return Project.objects.get(slug="demo")


def login(client, name: str) -> User:
    user = User.objects.get(username=name)
    client.force_login(user)
    return user


def spec_page(client) -> str:
    response = client.get(reverse("spec_detail", args=["demo", AUTH]))
    assert response.status_code == 200
    return response.content.decode()


def task_row(body: str, task_id: str) -> str:
    match = re.search(rf'<tr data-task="{task_id}".*?</tr>', body, re.S)
    assert match, task_id
    return match.group()


def test_a_member_records_a_manual_check_from_the_spec_page(client, demo: Project) -> None:
    login(client, "demo-member")
    body = spec_page(client)
    row = task_row(body, "TSK-AUTH-006")
    url = reverse("manual_check", args=["demo", AUTH, "TSK-AUTH-006"])
    assert 'data-testid="manual-check"' in row and f'action="{url}"' in row
    assert 'data-testid="manual-check"' not in task_row(body, "TSK-AUTH-001")  # checked by its hooks

    response = client.post(url, {"note": "states look right"})
    assert response.status_code == 302 and response["Location"].endswith("#task-TSK-AUTH-006")
    check = ManualCheck.objects.get()
    assert (check.task_id, check.checked_by.username, check.note) == (
        "TSK-AUTH-006",
        "demo-member",
        "states look right",
    )
    row = task_row(spec_page(client), "TSK-AUTH-006")
    assert "checked by demo-member on" in row and "states look right" in row
    assert "Withdraw the manual check" in row

    client.post(url, {"action": "withdraw"})
    assert not ManualCheck.objects.exists()


def test_a_viewer_sees_no_form_and_cannot_post(client, demo: Project) -> None:
    login(client, "demo-viewer")
    row = task_row(spec_page(client), "TSK-AUTH-006")
    assert "<form" not in row
    url = reverse("manual_check", args=["demo", AUTH, "TSK-AUTH-006"])
    assert client.post(url, {"note": "x"}).status_code == 403
    assert not ManualCheck.objects.exists()


def test_the_start_form_passes_mode_and_turn_limit(client, demo: Project) -> None:
    login(client, "demo-member")
    body = spec_page(client)
    assert 'data-testid="start-autopilot"' in body
    assert 'name="max_iterations" min="1" max="100" value="12"' in body
    response = client.post(
        reverse("run_create", args=["demo"]),
        {"workflow": "autopilot", "spec_id": AUTH, "mode": "supervised", "max_iterations": "3"},
    )
    run = Run.objects.get()
    assert response["Location"] == run.get_absolute_url()
    assert run.params == {"mode": "supervised", "max_iterations": 3}


def test_a_bad_turn_limit_is_refused_with_its_reason(client, demo: Project) -> None:
    login(client, "demo-member")
    response = client.post(
        reverse("run_create", args=["demo"]),
        {"workflow": "autopilot", "spec_id": AUTH, "max_iterations": "500"},
        follow=True,
    )
    assert "max_iterations must be a whole number from 1 to 100" in response.content.decode()
    assert not Run.objects.exists()


def test_the_run_button_links_to_the_active_run_instead_of_starting_another(client, demo: Project) -> None:
    login(client, "demo-member")
    start = {"workflow": "autopilot", "spec_id": AUTH}
    client.post(reverse("run_create", args=["demo"]), start)
    run = Run.objects.get()
    body = spec_page(client)
    assert f'href="{run.get_absolute_url()}" data-testid="active-run"' in body
    assert 'name="allow_concurrent"' in body
    project_page = client.get(reverse("project_detail", args=["demo"])).content.decode()
    assert f'href="{run.get_absolute_url()}" data-testid="active-run"' in project_page

    again = client.post(reverse("run_create", args=["demo"]), start)
    assert again["Location"] == run.get_absolute_url()  # shown the one that is going
    assert Run.objects.count() == 1

    on_purpose = client.post(reverse("run_create", args=["demo"]), {**start, "allow_concurrent": "1"})
    assert Run.objects.count() == 2
    assert on_purpose["Location"] == Run.objects.exclude(pk=run.pk).get().get_absolute_url()
