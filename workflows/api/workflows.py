"""Workflow templates.

GET  /workflows          every template with its latest version
POST /workflows          validate and save one: a JSON object, or YAML with
                         `Content-Type: application/yaml`; 422 names each step and field
GET  /workflows/{name}   one template: its latest definition, source and versions

Templates are shared by every team, so saving one needs the admin role in some team, and
the built-in templates (the ones the product ships) can only be changed by staff.
"""

from __future__ import annotations

from typing import Any

import yaml
from django.db.models import Max
from django.http import Http404, HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from accounts.models import Role
from accounts.permissions import team_ids_with_role
from workflows.api.auth import caller
from workflows.api.errors import ApiError, error_responses
from workflows.api.pagination import PageQuery, page_of
from workflows.api.schemas import TemplateDetailOut, TemplatePageOut
from workflows.api.writes import one_writer
from workflows.engine.definitions import NAME_RE, parse_source
from workflows.models import WorkflowTemplate
from workflows.services.templates import template_save

router = Router(tags=["workflows"])

JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
MAX_TEMPLATE_BYTES = 256 * 1024

# The body is read by the endpoint (YAML is not JSON), so its shape is declared here.
_TEMPLATE_BODY_SCHEMA = {
    "type": "object",
    "required": ["name", "steps"],
    "properties": {
        "name": {"type": "string", "pattern": NAME_RE.pattern},
        "description": {"type": "string"},
        "kind": {"type": "string", "enum": ["dag", "autopilot"]},
        "mode": {"type": "string", "enum": ["auto", "supervised"]},
        "max_parallel": {"type": "integer", "minimum": 1, "maximum": 64},
        "max_iterations": {"type": "integer", "minimum": 1, "maximum": 100},
        "steps": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "uses"],
                "properties": {
                    "id": {"type": "string"},
                    "uses": {"type": "string"},
                    "needs": {"type": "array", "items": {"type": "string"}},
                    "with": {"type": "object"},
                    "timeout": {"type": ["string", "integer"]},
                    "retries": {"type": "integer"},
                    "for_each": {},
                    "join": {},
                    "name": {"type": "string"},
                },
            },
        },
    },
}
_CREATE_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _TEMPLATE_BODY_SCHEMA},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


def _with_version(queryset: Any) -> Any:
    return queryset.annotate(latest_version=Max("versions__number"))


@router.get("", response={200: TemplatePageOut, **error_responses()}, summary="Templates")
def list_workflows(request: HttpRequest, page: Query[PageQuery]) -> Any:
    return page_of(_with_version(WorkflowTemplate.objects.all()).order_by("name"), page)


@router.post(
    "",
    response={201: TemplateDetailOut, **error_responses(403, 413, 415, 503)},
    openapi_extra=_CREATE_OPENAPI,
    summary="Validate and save a template",
)
def create_workflow(request: HttpRequest) -> Any:
    _check_may_save(request)
    content_type = _template_type(request)
    text = _body_text(request)
    data = parse_source(text, content_type)
    _check_not_builtin(request, data.get("name"))
    with one_writer():
        version = template_save(
            data=data,
            source=text,
            content_type=content_type,
            created_by=caller(request),
            channel="api",
        )
    return Status(201, _detail(version.template))


@router.get("/{name}", response={200: TemplateDetailOut, **error_responses(404)}, summary="One template")
def get_workflow(request: HttpRequest, name: str) -> Any:
    template = _with_version(WorkflowTemplate.objects.filter(name=name)).first()
    if template is None:
        raise Http404("No such workflow.")
    return _detail(template)


def _check_may_save(request: HttpRequest) -> None:
    user = caller(request)
    if not (user.is_staff or team_ids_with_role(user, Role.ADMIN)):
        raise ApiError(403, "Saving a workflow template needs the admin role in a team.")


def _check_not_builtin(request: HttpRequest, name: object) -> None:
    builtin = WorkflowTemplate.objects.filter(name=str(name), builtin=True).exists()
    if builtin and not caller(request).is_staff:
        raise ApiError(403, f"{name!r} is a built-in template; only staff may change it.")


def _template_type(request: HttpRequest) -> str:
    content_type = request.content_type or ""
    if content_type in JSON_TYPES:
        return "application/json"
    if content_type in YAML_TYPES:
        return "application/yaml"
    raise ApiError(415, "Send the template as application/json or application/yaml.")


def _body_text(request: HttpRequest) -> str:
    if len(request.body) > MAX_TEMPLATE_BYTES:
        raise ApiError(413, f"A template is at most {MAX_TEMPLATE_BYTES // 1024} KiB.")
    text = request.body.decode("utf-8", errors="replace")
    if request.content_type in YAML_TYPES:
        _refuse_yaml_aliases(text)
    return text


def _refuse_yaml_aliases(text: str) -> None:
    """Aliases let a few KiB of YAML expand to gigabytes once stored as JSON; a template
    never needs them, so they are refused before the document is built."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise ApiError(
                    422,
                    "YAML anchors and aliases are not accepted in templates.",
                    "invalid_template",
                    [{"field": None, "step": None, "message": "remove the *alias"}],
                )
    except yaml.YAMLError:
        return  # parse_source reports the syntax error with its position


def _detail(template: WorkflowTemplate) -> dict[str, Any]:
    versions = list(template.versions.select_related("created_by").order_by("-number"))
    latest = versions[0] if versions else None
    return {
        "name": template.name,
        "description": template.description,
        "builtin": template.builtin,
        "latest_version": latest.number if latest else None,
        "updated_at": template.updated_at,
        "definition": latest.definition if latest else {},
        "source": latest.source if latest else "",
        "versions": [
            {
                "number": v.number,
                "created_at": v.created_at,
                "created_by": v.created_by.get_username() if v.created_by else None,
            }
            for v in versions
        ],
    }
