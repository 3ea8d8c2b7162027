"""Agent budgets and prices through PATCH /projects/{slug}; usage on projects and runs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import AuditEntry
from tests.workflows.engine.conftest import drain, start
from tests.workflows.engine.test_agent_usage import SPEC, agents, use_agent
from workflows.models import Project

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_a_team_admin_sets_and_removes_budgets_and_prices(as_user, team_users, project):
    admin = as_user(team_users.admin)
    response = admin.patch(
        "/projects/acme-web",
        {
            "budget_per_run": 0.5,
            "budget_per_month": "20",
            "price_input_per_mtok": 3,
            "price_output_per_mtok": 15,
        },
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["budget_per_run"], body["budget_per_month"]) == (0.5, 20.0)
    assert (body["price_input_per_mtok"], body["price_output_per_mtok"]) == (3.0, 15.0)
    project.refresh_from_db()
    assert project.budget_per_run == Decimal("0.5") and project.budget_per_month == Decimal("20")
    entry = AuditEntry.objects.get(action="workflows.project.updated")
    assert entry.data["after"]["budget_per_run"] == "0.5"
    # null removes a budget; a field not sent stays as it was.
    body = admin.patch("/projects/acme-web", {"budget_per_run": None}).json()
    assert body["budget_per_run"] is None and body["budget_per_month"] == 20.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("budget_per_run", -1),
        ("budget_per_month", "NaN"),
        ("price_input_per_mtok", "Infinity"),
        ("budget_per_run", "a lot"),
        ("price_output_per_mtok", 0.00001),
        ("budget_per_month", 10**12),
    ],
)
def test_bad_amounts_are_refused_with_the_field_named_and_nothing_changes(
    as_user, team_users, project, field, value
):
    Project.objects.filter(pk=project.pk).update(budget_per_run=Decimal("1"))
    response = as_user(team_users.admin).patch("/projects/acme-web", {field: value, "name": "Renamed"})
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"].endswith(field), body
    assert body["errors"][0]["message"]
    project.refresh_from_db()
    assert project.budget_per_run == Decimal("1") and project.name == "Acme web"


def test_only_team_admins_set_budgets(as_user, team_users, project):
    for user in (team_users.viewer, team_users.member, team_users.approver):
        assert as_user(user).patch("/projects/acme-web", {"budget_per_run": 5}).status_code == 403
    project.refresh_from_db()
    assert project.budget_per_run is None


def test_a_project_and_a_run_show_what_the_agent_steps_used(as_user, team_users, project):
    use_agent(project, "0.25")
    run = drain(start(project, agents(2), spec_id=SPEC))
    viewer = as_user(team_users.viewer)
    usage = viewer.get("/projects/acme-web").json()["usage"]
    for period in ("this_month", "all_time"):
        assert usage[period]["steps"] == 2
        assert (usage[period]["input_tokens"], usage[period]["output_tokens"]) == (2400, 600)
        assert usage[period]["cost_usd"] == 0.5 and usage[period]["unpriced_steps"] == 0
        assert usage[period]["seconds"] > 0
    detail = viewer.get(f"/runs/{run.pk}").json()
    assert detail["usage"]["total"]["cost_usd"] == 0.5
    assert [
        (s["step"], s["attempt"], s["input_tokens"], s["cost_usd"]) for s in detail["usage"]["steps"]
    ] == [
        ("a1", 1, 1200, 0.25),
        ("a2", 1, 1200, 0.25),
    ]
    spec = viewer.get(f"/projects/acme-web/specs/{SPEC}").json()["usage"]
    assert (spec["steps"], spec["input_tokens"], spec["cost_usd"]) == (2, 2400, 0.5)


def test_a_project_without_agent_steps_has_unknown_cost(as_user, team_users, project):
    usage = as_user(team_users.viewer).get("/projects/acme-web").json()["usage"]
    assert usage["all_time"] == {
        "steps": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": None,
        "unpriced_steps": 0,
        "seconds": 0.0,
    }
