"""Walk EVERY page of the site (not the API: tests/api/test_permissions_walk.py does that)
as people who must not get at Acme's objects, the way the API walk does.

The routes come from the URL configuration itself, so a new page that forgets its
permission check fails here until it is taught how to fill its parameters.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from workflows.engine.approval_mail import link_token
from workflows.models import ApprovalGate, Project, Run, WorkflowTemplate
from workflows.services.templates import template_save

pytestmark = pytest.mark.django_db

SPEC = "spec-core-001-authentication"
# Served by other walks or by nobody's objects: the API (its own walk), the admin (staff
# only, walked below), Django's language switch, and the operations endpoints (staff only).
ELSEWHERE = ("api/", "admin/", "i18n/", "healthz", "readyz", "metrics")
# Pages about the caller's own things, not a team's: they answer 200 with nothing of Acme.
OWN_PAGES = {
    "",
    "approvals/",
    "workflows/",
    "accounts/login/",
    "accounts/logout/",
    "accounts/password/change/",
    "accounts/password/change/done/",
    "accounts/password/reset/",
    "accounts/password/reset/sent/",
    "accounts/password/reset/complete/",
    "accounts/password/reset/<uidb64>/<token>/",
    "accounts/tokens/",
    "accounts/tokens/<int:token_id>/revoke/",
    "accounts/team/",
    "accounts/language/",
    "ops/performance/",
}


def page_routes() -> list[str]:
    found: list[str] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith(ELSEWHERE) or route.startswith("^"):
                continue
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                found.append(route)

    walk(get_resolver().url_patterns, "")
    assert len(found) > 15, found
    return found


@pytest.fixture
def acme(project, team_users, acme_run, open_gate):
    gate = open_gate()
    invitation = gate.invitations.get(user=team_users.approver)
    template_save(
        data={"name": "acme-only", "steps": [{"id": "a", "uses": "noop"}]},
        team=team_users.team,
        created_by=team_users.admin,
        channel="web",
    )
    return {
        "slug": project.slug,
        "spec_id": SPEC,
        "task_id": "T006",  # its one hook is a ui hook: a manual check may be recorded
        "name": "acme-only",
        "run_id": acme_run.pk,
        "gate_id": gate.pk,
        "token": link_token(invitation),
    }


def fill(route: str, values: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"teach the page walk a real Acme value for <{name}>"
        return str(values[name])

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route)


def snapshot() -> tuple[Any, ...]:
    return (
        sorted((p.slug, p.name, tuple(p.shell_allowlist)) for p in Project.objects.all()),
        sorted(Run.objects.values_list("pk", "status")),
        sorted(ApprovalGate.objects.values_list("pk", "status")),
        sorted((t.name, t.versions.count()) for t in WorkflowTemplate.objects.all()),
    )


# A CSRF token is 64 random letters and digits, so now and then it spells "acme".
CSRF_TOKEN = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[A-Za-z0-9]+')


def shown_text(response: Any, url: str = "") -> str:
    """What a page shows of its data: without its CSRF tokens, and without its own address
    (which a page may echo)."""
    text = CSRF_TOKEN.sub(r"\1", response.content.decode())
    return text.replace(url, "") if url else text


def team_routes() -> list[str]:
    return [r for r in page_routes() if r not in OWN_PAGES]


def test_every_page_of_a_teams_object_is_404_to_another_team(team_users, acme):
    outsider = Client()
    outsider.force_login(team_users.outsider)  # an admin, of Globex
    before = snapshot()
    for route in team_routes():
        url = fill(route, acme)
        for method in ("get", "post"):
            response = getattr(outsider, method)(url)
            where = f"{method.upper()} {url}"
            assert response.status_code in (403, 404, 405), f"{where}: {response.status_code}"
            assert "acme" not in shown_text(response, url).lower(), f"{where} leaked Acme data"
    assert snapshot() == before


def test_a_viewer_changes_nothing_through_any_page(team_users, acme):
    viewer = Client()
    viewer.force_login(team_users.viewer)
    before = snapshot()
    for route in team_routes():
        url = fill(route, acme)
        body = {
            "verdict": "approve",
            "workflow": "acme-only",
            "spec_id": SPEC,
            "text": f"verify {SPEC}",
            "source": "name: tiny\nsteps:\n  - id: z\n    uses: noop\n",
        }
        response = viewer.post(url, body)
        assert response.status_code < 500, url
    assert snapshot() == before


def test_own_pages_show_nothing_of_another_team(team_users, acme):
    outsider = Client()
    outsider.force_login(team_users.outsider)
    for route in OWN_PAGES & set(page_routes()):
        if "<" in route or "logout" in route:
            continue
        response = outsider.get("/" + route)
        assert response.status_code in (200, 302, 403, 405), route
        assert "acme" not in shown_text(response).lower(), f"/{route} leaked Acme data"


def test_the_admin_is_closed_to_team_admins_who_are_not_staff(team_users, acme):
    admin = Client()
    admin.force_login(team_users.admin)
    for url in (
        "/admin/",
        "/admin/workflows/project/",
        f"/admin/workflows/run/{acme['run_id']}/change/",
        f"/admin/workflows/approvalgate/{acme['gate_id']}/change/",
        "/admin/workflows/workflowtemplate/",
    ):
        # A page saying the console is for staff (it used to be the admin's sign-in form).
        response = admin.get(url)
        assert response.status_code == 403, url
        assert "For staff only" in response.content.decode(), url
