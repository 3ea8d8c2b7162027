"""Fixtures for the REST API: token clients per user, a tiny workflow, runs and a gate."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from django.test import Client

from accounts.services import token_create
from workflows.engine.gates import gate_open
from workflows.models import ApprovalGate, Project, Run, Step, TemplateVersion
from workflows.services.runs import run_start
from workflows.services.templates import template_save

API = "/api/v1"


class ApiClient:
    """The Django test client with a bearer token, speaking JSON."""

    def __init__(self, raw_token: str | None, **client_options: Any) -> None:
        headers = {"Authorization": f"Bearer {raw_token}"} if raw_token else {}
        self.client = Client(headers=headers, **client_options)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(API + path, params)

    def post(self, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        data = body if isinstance(body, str | bytes) else json.dumps(body or {})
        return self.client.post(API + path, data, content_type=content_type)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.client.patch(API + path, json.dumps(body or {}), content_type="application/json")

    def delete(self, path: str, body: Any = None) -> Any:
        return self.client.delete(API + path, json.dumps(body or {}), content_type="application/json")


@pytest.fixture(autouse=True)
def counted_from_zero(fresh_rate_counters: None) -> None:
    """Every API test's requests count against the rate limits from zero."""


@pytest.fixture
def as_user(db: None) -> Callable[[Any], ApiClient]:
    """as_user(user) -> a client that authenticates with a fresh token of that user."""

    def make(user: Any) -> ApiClient:
        _, raw = token_create(user=user, name="tests", channel="system")
        return ApiClient(raw)

    return make


def save_template(doc: dict[str, Any]) -> TemplateVersion:
    return template_save(
        source=yaml.safe_dump(doc),
        content_type="application/yaml",
        created_by=None,
        channel="system",
    )


@pytest.fixture
def tiny_workflow(db: None) -> TemplateVersion:
    return save_template({"name": "tiny", "steps": [{"id": "only", "uses": "noop"}]})


@pytest.fixture
def acme_run(project: Project, team_users: Any, tiny_workflow: TemplateVersion) -> Run:
    return run_start(project=project, version=tiny_workflow, started_by=team_users.member, channel="web")


@pytest.fixture
def open_gate(project: Project, team_users: Any) -> Callable[..., ApprovalGate]:
    """open_gate(**with) -> a pending gate whose approval step is waiting, as a worker
    would leave it (without running a worker: these tests need no queue)."""

    def make(**config: Any) -> ApprovalGate:
        config = {"approvers": ["role:approver"], **config}
        version = save_template(
            {"name": "gated", "steps": [{"id": "review", "uses": "approval", "with": config}]}
        )
        run = run_start(project=project, version=version, started_by=team_users.member, channel="web")
        step = run.steps.get(key="review")
        gate = gate_open(step=step, config=step.config)
        Step.objects.filter(pk=step.pk).update(status=Step.Status.WAITING)
        Run.objects.filter(pk=run.pk).update(status=Run.Status.WAITING)
        return gate

    return make
