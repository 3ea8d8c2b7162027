"""The OpenAPI schema: it builds (every annotation resolves at run time, although the API's
modules use `from __future__ import annotations`), and documents what the API answers."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import API
from workflows.api import api

pytestmark = pytest.mark.django_db

SUCCESS = {"get": ("200",), "post": ("200", "201"), "patch": ("200",), "delete": ("200",)}


@pytest.fixture(scope="module")
def schema():
    return json.loads(json.dumps(api.get_openapi_schema()))  # as served: string keys


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_annotation_resolved_into_a_named_schema(schema):
    text = json.dumps(schema)
    assert "ForwardRef" not in text and "PydanticUndefined" not in text
    names = set(schema["components"]["schemas"])
    for expected in (
        "RunCreateIn",
        "RunOut",
        "RunDetailOut",
        "ProjectCreateIn",
        "DecisionIn",
        "IntentIn",
        "IntentOut",
        "ErrorOut",
        "EventsOut",
        "GateDetailOut",
    ):
        assert expected in names
    body = schema["paths"][f"{API}/runs"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/RunCreateIn"}


def test_every_operation_documents_its_answers(schema):
    ids = set()
    for path, method, operation in operations(schema):
        where = f"{method.upper()} {path}"
        assert operation["operationId"] not in ids, where
        ids.add(operation["operationId"])
        codes = set(operation["responses"])
        assert {"401", "422", "429"} <= codes, where
        assert codes & set(SUCCESS[method]), where
        for code in codes - {"200", "201"}:
            ref = operation["responses"][code]["content"]["application/json"]["schema"]
            assert ref == {"$ref": "#/components/schemas/ErrorOut"}, f"{where} {code}"
        assert operation.get("security"), f"{where} must require authentication"


def test_templates_may_be_posted_as_json_or_yaml(schema):
    content = schema["paths"][f"{API}/workflows"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "application/yaml"}


def test_the_schema_is_served(client):
    served = client.get(f"{API}/openapi.json").json()
    assert served["info"]["title"] == "SmartSpec Autopilot API"
    assert served["info"]["version"] == "1"
