"""Walk EVERY operation of the API as people who must not get at Acme's objects.

The routes come from the API itself (its OpenAPI paths, cross-checked against its URL
patterns), so a new route that forgets its permission check fails here: another team's
user must get 404 or an empty list, a viewer must get 403 for anything that writes.
A new route also fails until it is taught here how to fill its parameters and body.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api.conftest import API
from workflows.api import api
from workflows.models import ApprovalGate, Project, Run, WorkflowTemplate
from workflows.services.templates import templates_builtin_ensure

pytestmark = pytest.mark.django_db

SPEC = "spec-core-001-authentication"
UNSAFE = {"post", "put", "patch", "delete"}

# Routes whose objects belong to no team (workflow templates are shared) or to the caller.
NOT_TEAM_SCOPED = {
    ("get", "/me"),
    ("get", "/workflows"),
    ("get", "/workflows/{name}"),
    ("post", "/workflows"),
}

# What each write sends: always aimed at Acme's objects, and valid, so that only a
# permission check can stop it.
BODIES: dict[tuple[str, str], Any] = {
    ("post", "/projects"): {"team": "acme", "slug": "walked", "name": "W", "workspace": "{ws}"},
    ("patch", "/projects/{slug}"): {"shell_allowlist": ["rm"]},
    ("post", "/workflows"): {"name": "walked", "steps": [{"id": "a", "uses": "noop"}]},
    ("post", "/runs"): {"project": "acme-web", "workflow": "tiny", "spec_id": SPEC},
    ("post", "/runs/{run_id}/cancel"): {},
    ("post", "/runs/{run_id}/resume"): {},
    ("post", "/runs/{run_id}/retry"): {},
    ("post", "/runs/{run_id}/merge"): {},
    ("post", "/runs/{run_id}/publish"): {},
    ("post", "/approvals/{gate_id}/decisions"): {"verdict": "approve", "comment": "walk"},
    ("post", "/intents"): {"text": f"verify {SPEC}", "project": "acme-web", "execute": True},
    ("post", "/projects/{slug}/specs/{spec_id}/tasks/{task_id}/manual-check"): {"note": "walk"},
    ("delete", "/projects/{slug}/specs/{spec_id}/tasks/{task_id}/manual-check"): {},
}


def operations() -> list[tuple[str, str]]:
    """(method, path under /api/v1) of every operation the API serves."""
    paths = api.get_openapi_schema()["paths"]
    found = [(method, path.removeprefix(API)) for path, methods in paths.items() for method in methods]
    assert found, "the API has no operations?"
    return sorted(found)


def test_every_url_pattern_is_in_the_walk():
    """No route hides from the walk by leaving the schema (include_in_schema=False)."""
    walked = {_shape(path) for _, path in operations()}
    served = set()
    for pattern in api.urls[0]:
        if pattern.name in ("openapi-json", "openapi-view", "api-root"):
            continue
        served.add(_shape("/" + str(pattern.pattern).rstrip("/")))
    assert served <= walked, f"routes missing from the OpenAPI schema: {served - walked}"


def _shape(path: str) -> str:
    return re.sub(r"[{<][^}>]*[}>]", "{}", path)


@pytest.fixture
def acme(project, team_users, acme_run, open_gate, data_dir):
    gate = open_gate()
    values = {
        "slug": project.slug,
        "spec_id": SPEC,
        "task_id": "T006",  # its one hook is a ui hook: a manual check may be recorded
        "name": "tiny",
        "run_id": acme_run.pk,
        "gate_id": gate.pk,
    }
    return {"values": values, "run": acme_run, "gate": gate, "workspace": str(data_dir)}


def fill(path: str, values: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"teach the walk test a real Acme value for {{{name}}}"
        return str(values[name])

    return re.sub(r"{(?:\w+:)?(\w+)}", value, path)


def call(client: Any, method: str, path: str, acme: dict[str, Any]) -> Any:
    url = fill(path, acme["values"])
    if method not in UNSAFE:
        return getattr(client, method)(url)
    assert (method, path) in BODIES, f"teach the walk test a body for {method.upper()} {path}"
    body = BODIES[(method, path)]
    if isinstance(body, dict) and body.get("workspace") == "{ws}":
        body = {**body, "workspace": acme["workspace"]}
    return getattr(client, method)(url, body)


def snapshot() -> tuple[Any, ...]:
    return (
        Project.objects.count(),
        sorted((p.slug, p.name, tuple(p.shell_allowlist)) for p in Project.objects.all()),
        Run.objects.count(),
        sorted(Run.objects.values_list("pk", "status")),
        sorted(ApprovalGate.objects.values_list("pk", "status")),
    )


def test_another_teams_user_gets_404_or_nothing_on_every_route(as_user, team_users, acme):
    outsider = as_user(team_users.outsider)  # an admin, of Globex
    before = snapshot()
    for method, path in operations():
        response = call(outsider, method, path, acme)
        where = f"{method.upper()} {path}"
        text = response.content.decode()
        assert response.status_code < 500, where
        assert "acme" not in text.lower(), f"{where} leaked Acme data: {text[:300]}"
        if (method, path) in NOT_TEAM_SCOPED:
            continue
        if response.status_code == 200 and method == "get":
            body = response.json()
            assert body.get("count") == 0 and body.get("items") == [], f"{where}: {text[:300]}"
        else:
            assert response.status_code == 404, f"{where}: {response.status_code} {text[:300]}"
    assert snapshot() == before


def test_a_viewer_reads_everything_and_writes_nothing(as_user, team_users, acme):
    viewer = as_user(team_users.viewer)
    templates_builtin_ensure()  # the first read installs the built-ins; that is not the viewer writing
    before = snapshot()
    templates = WorkflowTemplate.objects.count()
    for method, path in operations():
        response = call(viewer, method, path, acme)
        where = f"{method.upper()} {path}"
        expected = 403 if method in UNSAFE else 200
        assert response.status_code == expected, f"{where}: {response.content[:300]!r}"
        if expected == 403:
            assert response.json()["code"] in ("forbidden", "csrf_failed"), where
    assert snapshot() == before
    assert WorkflowTemplate.objects.count() == templates


def test_anonymous_callers_get_401_everywhere(acme):
    from tests.api.conftest import ApiClient

    anonymous = ApiClient(None)
    for method, path in operations():
        response = call(anonymous, method, path, acme)
        assert response.status_code == 401, f"{method.upper()} {path}"


def test_every_operation_is_rate_limited(as_user, team_users, acme, settings):
    from django.core.cache import caches

    settings.RATELIMIT_ENABLE = True
    settings.RATELIMITS = {**settings.RATELIMITS, "relaxed": "1/h", "moderate": "1/h"}
    viewer = as_user(team_users.viewer)
    for method, path in operations():
        caches["ratelimit"].clear()
        call(viewer, method, path, acme)
        response = call(viewer, method, path, acme)
        assert response.status_code == 429, f"{method.upper()} {path} is not rate-limited"
        assert response.json()["code"] == "rate_limited" and response["Retry-After"]
