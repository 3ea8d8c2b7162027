"""The API over real HTTP, served by daphne against the test database.

One smoke test of authentication, and schemathesis generating requests (valid and invalid)
for every operation of the live OpenAPI schema: no 5xx, and every answer has a documented
status, content type and shape.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from django.conf import settings
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.services import token_create
from tests.api.conftest import API, save_template
from tests.conftest import FIXTURES
from workflows.engine.gates import gate_open
from workflows.models import Project
from workflows.services.runs import run_start

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SPEC = "spec-core-001-authentication"
# Per operation: valid requests, then invalid ones (fewer: they mostly stop at validation).
POSITIVE_EXAMPLES = 25
NEGATIVE_EXAMPLES = 10


@pytest.fixture
def live_project(team_users: Any) -> Iterator[Project]:
    """A project whose workspace lies in the data directory the daphne process uses."""
    workspace = Path(settings.DATA_DIR) / "workspaces" / f"live-{uuid.uuid4().hex[:8]}"
    shutil.copytree(FIXTURES / "workspaces" / "basic", workspace, symlinks=True)
    project = Project.objects.create(
        team=team_users.team,
        slug="acme-web",
        name="Acme web",
        workspace=str(workspace),
    )
    yield project
    shutil.rmtree(workspace, ignore_errors=True)


@pytest.fixture
def member_token(team_users: Any) -> str:
    return token_create(user=team_users.member, name="live", channel="system")[1]


def test_it_authenticates_over_real_http(daphne_server, team_users, member_token):
    with httpx.Client(base_url=daphne_server.url + API, timeout=10) as http:
        anonymous = http.get("/me")
        assert anonymous.status_code == 401
        assert anonymous.json()["code"] == "not_authenticated"
        me = http.get("/me", headers={"Authorization": f"Bearer {member_token}"})
        assert me.status_code == 200
        assert me.json()["username"] == "member-user" and me.json()["auth"] == "token"
        schema = http.get("/openapi.json")
        assert schema.status_code == 200 and schema.json()["info"]["version"] == "1"


def test_schemathesis_finds_no_server_errors_and_no_schema_violations(
    daphne_server, team_users, live_project, member_token
):
    run, gate = _acme_objects(live_project, team_users)
    real = {
        "slug": "acme-web",
        "spec_id": SPEC,
        "name": "tiny",
        "run_id": run.pk,
        "gate_id": gate.pk,
    }
    schema = schemathesis.openapi.from_url(f"{daphne_server.url}{API}/openapi.json")
    checks = [
        schemathesis.checks.not_a_server_error,
        schemathesis.checks.status_code_conformance,
        schemathesis.checks.content_type_conformance,
        schemathesis.checks.response_schema_conformance,
    ]
    headers = {"Authorization": f"Bearer {member_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17
    modes = (
        (schemathesis.GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
        (schemathesis.GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
    )
    with requests.Session() as session:  # keep-alive: the budget goes to requests, not TCP
        for operation in operations:
            for mode, examples in modes:
                strategy = operation.as_strategy(generation_mode=mode)
                _fuzz(strategy, examples, real, session, headers, checks)


def _fuzz(
    strategy: Any,
    examples: int,
    real: dict[str, Any],
    session: requests.Session,
    headers: dict[str, str],
    checks: list[Any],
) -> None:
    # Half the cases aim at Acme's real objects, so found-paths are exercised too.
    cases = st.tuples(strategy, st.booleans()).map(lambda pair: _aim(*pair, real))

    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def check(case: Any) -> None:
        response = case.call(session=session, headers=headers, timeout=10)
        case.validate_response(response, checks=checks, headers=headers)

    check()


def _aim(case: Any, at_real: bool, real: dict[str, Any]) -> Any:
    if at_real and case.path_parameters:
        for name in case.path_parameters:
            if name in real:
                case.path_parameters[name] = real[name]
    return case


def _acme_objects(project: Project, team_users: Any) -> tuple[Any, Any]:
    tiny = save_template({"name": "tiny", "steps": [{"id": "only", "uses": "noop"}]})
    run = run_start(project=project, version=tiny, started_by=team_users.admin, channel="web")
    gated = save_template(
        {
            "name": "gated",
            "steps": [
                {"id": "review", "uses": "approval", "with": {"approvers": ["role:member"]}},
            ],
        }
    )
    gate_run = run_start(project=project, version=gated, started_by=team_users.admin, channel="web")
    step = gate_run.steps.get(key="review")
    return run, gate_open(step=step, config=step.config)
