"""Agent usage and budgets on the pages: the project page (this month, all time, the
budgets and the form that sets them), the run page and the spec page; and the admin."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from tests.workflows.engine.conftest import drain, start
from tests.workflows.engine.test_agent_usage import SPEC, agents, use_agent
from workflows.models import Project

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_the_pages_show_tokens_cost_and_time(client, team_users, project):
    use_agent(project, "0.25")
    run = drain(start(project, agents(2), spec_id=SPEC))
    Project.objects.filter(pk=project.pk).update(budget_per_month=Decimal("0.40"))
    client.force_login(team_users.viewer)
    page = client.get(reverse("project_detail", args=[project.slug])).content.decode()
    month = page.split('data-period="month"')[1].split("</tr>")[0]
    assert 'data-usage="input_tokens">2,400<' in month and 'data-usage="output_tokens">600<' in month
    assert 'data-usage="cost">$0.50' in month and 'data-usage="budget">$0.40<' in month
    assert 'data-testid="month-spent"' in page  # $0.50 ≥ $0.40
    assert "No budget per run." in page
    assert 'data-testid="spending-settings"' not in page  # viewers see, admins change

    page = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    usage = page.split('data-testid="usage"')[1].split("</table>")[0]
    assert usage.count("$0.25") == 2 and 'data-usage-step="a2"' in usage
    total = usage.split('data-usage-step="total"')[1]
    assert "2,400" in total and "$0.50" in total

    page = client.get(reverse("spec_detail", args=[project.slug, SPEC])).content.decode()
    spec = page.split('data-testid="usage"')[1].split("</table>")[0]
    assert 'data-usage="cost">$0.50' in spec


def test_a_step_whose_agent_reported_nothing_shows_its_time_and_an_unknown_cost(client, team_users, project):
    use_agent(project, "silent")
    run = drain(start(project, agents(1), spec_id=SPEC))
    client.force_login(team_users.viewer)
    page = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    row = page.split('data-usage-step="a1"')[1].split("</tr>")[0]
    assert "$" not in row and row.count("—") == 3  # tokens in, out and cost unknown
    assert row.rstrip().endswith("s</td>")  # the time, e.g. 0.3s


def test_an_admin_sets_the_budgets_on_the_project_page(client, team_users, project):
    client.force_login(team_users.admin)
    page = client.get(reverse("project_detail", args=[project.slug])).content.decode()
    assert 'data-testid="spending-settings"' in page
    response = client.post(
        reverse("project_spending", args=[project.slug]),
        {
            "budget_per_run": "0.5",
            "budget_per_month": "",
            "price_input_per_mtok": "3",
            "price_output_per_mtok": "15",
        },
        follow=True,
    )
    assert "Saved: the new budgets apply" in response.content.decode()
    project.refresh_from_db()
    assert (project.budget_per_run, project.budget_per_month) == (Decimal("0.5"), None)
    assert project.price_output_per_mtok == Decimal("15")
    assert "Each run may spend $0.50 on agent steps." in response.content.decode()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-2", "Budget per run (USD): must be zero or more, not -2"),
        ("NaN", "Budget per run (USD): Enter a number."),
    ],
)
def test_the_form_refuses_bad_amounts_with_the_reason(client, team_users, project, value, message):
    Project.objects.filter(pk=project.pk).update(budget_per_run=Decimal("1"))
    client.force_login(team_users.admin)
    response = client.post(
        reverse("project_spending", args=[project.slug]), {"budget_per_run": value}, follow=True
    )
    assert message in response.content.decode()
    project.refresh_from_db()
    assert project.budget_per_run == Decimal("1")


def test_only_team_admins_post_the_budget_form(client, team_users, project):
    client.force_login(team_users.member)
    response = client.post(reverse("project_spending", args=[project.slug]), {"budget_per_run": "9"})
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.budget_per_run is None


def test_the_admin_refuses_a_negative_budget(client, team_users, project):
    team_users.admin.is_staff = team_users.admin.is_superuser = True
    team_users.admin.save()
    client.force_login(team_users.admin)
    form = {
        "team": project.team_id,
        "slug": project.slug,
        "name": project.name,
        "workspace": project.workspace,
        "shell_allowlist": "[]",
        "test_command": "python -m pytest -q",
        "quality_thresholds": "{}",
        "spec_format": "auto",
        "implicit_evidence": "auto",
        "source_roots": "[]",
        "budget_per_month": "-5",
        "created_at_0": "2026-01-01",
        "created_at_1": "00:00:00",
    }
    response = client.post(reverse("admin:workflows_project_change", args=[project.pk]), form)
    assert response.status_code == 200
    assert "must be zero or more, not -5" in response.content.decode()
    project.refresh_from_db()
    assert project.budget_per_month is None


def test_a_run_stopped_by_its_budget_says_so_in_the_readers_language(client, team_users, project):
    from accounts.models import Profile

    use_agent(project, "0.30")
    Project.objects.filter(pk=project.pk).update(budget_per_run=Decimal("0.5"))
    run = drain(start(project, agents(3), spec_id=SPEC))
    client.force_login(team_users.member)
    english = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert (
        "Stopped: the run&#x27;s budget of $0.50 is spent ($0.60 so far); raise it on the project page"
        in english
    )
    Profile.objects.create(user=team_users.viewer, language="th")
    client.force_login(team_users.viewer)
    thai = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert "หยุดแล้ว: งบประมาณของรัน $0.50 ใช้หมดแล้ว (ใช้ไป $0.60)" in thai
    assert "โทเค็นขาเข้า" in thai and "รวมทั้งรัน" in thai
