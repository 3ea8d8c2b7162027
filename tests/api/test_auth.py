"""Who may call the API: bearer tokens, the browser session with CSRF, nobody else."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from accounts.services import token_create, token_revoke
from tests.api.conftest import API, ApiClient

pytestmark = pytest.mark.django_db


def test_it_answers_401_in_the_error_shape_without_credentials(team_users):
    response = ApiClient(None).get("/me")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Send 'Authorization: Bearer <token>' or sign in.",
        "code": "not_authenticated",
    }
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer ssp_not-a-real-token", "Bearer ", "Basic abc", "x"])
def test_it_refuses_bad_authorization_headers(team_users, header):
    response = Client(headers={"Authorization": header}).get(f"{API}/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_token_identifies_its_user_with_teams_and_roles(as_user, team_users):
    body = as_user(team_users.approver).get("/me").json()
    assert body["username"] == "approver-user"
    assert body["auth"] == "token"
    assert body["teams"] == [{"slug": "acme", "name": "Acme", "role": "approver"}]


def test_a_revoked_token_stops_working(team_users):
    token, raw = token_create(user=team_users.member, name="ci", channel="web")
    client = ApiClient(raw)
    assert client.get("/me").status_code == 200
    token_revoke(token=token, by=team_users.member, channel="web")
    assert client.get("/me").status_code == 401


def test_the_session_works_for_reads(client, team_users):
    client.force_login(team_users.viewer)
    body = client.get(f"{API}/me").json()
    assert body["username"] == "viewer-user"
    assert body["auth"] == "session"


def test_session_writes_need_the_csrf_token(team_users, project, tiny_workflow):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(team_users.member)
    body = json.dumps({"project": "acme-web", "workflow": "tiny"})
    refused = browser.post(f"{API}/runs", body, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"

    browser.get(f"{API}/docs")  # any page that hands out the CSRF cookie
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(
        f"{API}/runs", body, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 201, accepted.content


def test_a_bearer_token_needs_no_csrf_token(team_users, project, tiny_workflow):
    _, raw = token_create(user=team_users.member, name="ci", channel="web")
    api = ApiClient(raw, enforce_csrf_checks=True)
    response = api.post("/runs", {"project": "acme-web", "workflow": "tiny"})
    assert response.status_code == 201


def test_the_openapi_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get(f"{API}/openapi.json").json()
    assert schema["info"]["version"] == "1"
    assert "/api/v1/runs/{run_id}/events" in schema["paths"]
    assert set(schema["components"]["securitySchemes"]) == {"BearerToken", "SessionWithCsrf"}
    page = client.get(f"{API}/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page and "/static/ninja/swagger-ui.css" in page
    without_token = re.sub(r'data-csrf-token="[^"]*"', "", page)  # random letters may spell "cdn"
    assert "cdn" not in without_token.lower() and "https://" not in page
    assert '"validatorUrl": null' in page  # the schema is never sent to an outside validator
    assert 'data-api-csrf="true"' in page  # "Try it out" with a session sends the CSRF token
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-init.js"):
        response = client.get(f"/static/ninja/{asset}")
        assert response.status_code == 200, asset
        b"".join(response.streaming_content)  # type: ignore[attr-defined]
