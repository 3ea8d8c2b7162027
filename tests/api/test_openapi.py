"""The OpenAPI schema: it builds (every annotation resolves at run time, although the API's
modules use `from __future__ import annotations`), and documents what the API answers."""

from __future__ import annotations

import json
import re

import pytest

from tests.api.conftest import API
from workflows.api import api
from workflows.domain.template_format import NAME_PATTERN, STEP_KINDS

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


def test_the_template_body_is_the_template_formats_own_schema(client):
    served = client.get(f"{API}/openapi.json").json()
    components = served["components"]["schemas"]
    body = served["paths"][f"{API}/workflows"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/TemplateDef"}
    template = components["TemplateDef"]
    assert template["additionalProperties"] is False and set(template["required"]) == {"name"}
    assert template["properties"]["name"]["pattern"] == NAME_PATTERN
    steps = template["properties"]["steps"]["items"]
    mapping = steps["discriminator"]["mapping"]
    assert steps["discriminator"]["propertyName"] == "uses" and set(mapping) == set(STEP_KINDS)
    for kind, ref in mapping.items():
        step = components[ref.rsplit("/", 1)[1]]
        assert step["additionalProperties"] is False, kind
        assert step["properties"]["uses"]["const"] == kind
        with_ = step["properties"]["with"]
        assert components[with_["$ref"].rsplit("/", 1)[1]]["additionalProperties"] is False, kind
    shell_with = components["ShellWith"]
    assert shell_with["required"] == ["command"] and set(shell_with["properties"]) == {
        "command",
        "env",
        "cwd",
        "report",
    }
    # Every reference resolves inside the served document.
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(served))
    assert refs and set(refs) <= set(components)
