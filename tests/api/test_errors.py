"""Every error is JSON {"detail", "code"}: never an HTML page, never a traceback."""

from __future__ import annotations

import logging

import pytest
from django.db import OperationalError

from tests.api.conftest import API

pytestmark = pytest.mark.django_db


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and isinstance(body["code"], str)
    assert set(body) <= {"detail", "code", "errors"}
    if code:
        assert body["code"] == code
    assert "Traceback" not in response.content.decode()
    return body


def test_unexpected_errors_are_logged_and_answer_500_json(as_user, team_users, monkeypatch, caplog):
    import workflows.api.projects as projects

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(projects, "projects_visible_to", explode)
    with caplog.at_level(logging.ERROR, logger="workflows.api"):
        response = as_user(team_users.viewer).get("/projects")
    body = assert_error_shape(response, 500, "server_error")
    assert "secret internals" not in body["detail"]
    assert "secret internals" in caplog.text  # the log has it, the client does not


def test_malformed_json_is_400(as_user, team_users):
    response = as_user(team_users.member).post("/runs", "{not json", "application/json")
    assert_error_shape(response, 400, "bad_request")


def test_validation_errors_list_each_field(as_user, team_users):
    response = as_user(team_users.member).post("/runs", {"project": 5, "bogus": True})
    body = assert_error_shape(response, 422, "invalid")
    fields = {e["field"] for e in body["errors"]}
    assert {"project", "workflow", "bogus"} <= fields
    assert all(e["message"] for e in body["errors"])


def test_unknown_api_paths_are_json_404(as_user, team_users):
    assert_error_shape(as_user(team_users.viewer).get("/nowhere"), 404)
    assert_error_shape(as_user(team_users.viewer).get("/runs/not-a-number"), 404)


def test_a_wrong_method_is_405_json(as_user, team_users):
    response = as_user(team_users.viewer).client.delete(f"{API}/runs")
    assert response.status_code == 405
    assert "<html" not in response.content.decode().lower()


def test_a_huge_body_is_refused(as_user, team_users, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = as_user(team_users.admin).post("/workflows", "x" * 5000, "application/yaml")
    assert response.status_code in (400, 413)
    assert_error_shape(response, response.status_code)


def test_a_busy_database_answers_503_with_retry_after(
    as_user, team_users, project, tiny_workflow, monkeypatch
):
    import workflows.api.runs as runs

    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(runs, "run_start", locked)
    response = as_user(team_users.member).post("/runs", {"project": "acme-web", "workflow": "tiny"})
    assert_error_shape(response, 503, "busy")
    assert response["Retry-After"] == "1"
