"""Workflow templates.

GET  /workflows          every template with its latest version
POST /workflows          validate and save one: a JSON object, or YAML with
                         `Content-Type: application/yaml`; 422 names each step and field
GET  /workflows/{name}   one template: its latest definition, source and versions

A template belongs to a team (`?team=<slug>` when saving a new one; by default the one
team the caller administers): that team sees it, runs it and its admins change it. The
built-in templates are shared by every team and only staff change them
(workflows.services.templates decides, for the pages and the admin too).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Max
from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.openapi.schema import REF_TEMPLATE
from ninja.responses import Status

from accounts.models import Team
from accounts.permissions import teams_of
from workflows.api.auth import caller
from workflows.api.errors import ApiError, error_responses
from workflows.api.pagination import PageQuery, page_of
from workflows.api.schemas import SLUG_PATTERN, TemplateDetailOut, TemplatePageOut
from workflows.domain.template_format import TemplateDef, template_json_schema
from workflows.domain.template_source import parse_source
from workflows.domain.template_validation import Problem, TemplateInvalid
from workflows.models import WorkflowTemplate
from workflows.services.template_lookups import templates_visible_to
from workflows.services.templates import template_save

router = Router(tags=["workflows"])

JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
MAX_TEMPLATE_BYTES = 256 * 1024

# The body is read by the endpoint (YAML is not JSON), so its schema is declared here: the
# template format's own (domain/template_format.py), its parts added to the document's
# components by workflows/api/__init__.py.
_FORMAT = template_json_schema(REF_TEMPLATE)
TEMPLATE_SCHEMAS: dict[str, Any] = {
    **_FORMAT.pop("$defs"),
    TemplateDef.__name__: _FORMAT,
}
_CREATE_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=TemplateDef.__name__)}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


def _with_version(queryset: Any) -> Any:
    return queryset.annotate(latest_version=Max("versions__number"))


class SaveQuery(Schema):
    team: str | None = Field(
        None, pattern=SLUG_PATTERN, description="Slug of the team a new template belongs to."
    )


@router.get("", response={200: TemplatePageOut, **error_responses()}, summary="Templates")
def list_workflows(request: HttpRequest, page: Query[PageQuery]) -> Any:
    return page_of(_with_version(templates_visible_to(caller(request))).order_by("name"), page)


@router.post(
    "",
    response={201: TemplateDetailOut, **error_responses(403, 404, 413, 415, 503)},
    openapi_extra=_CREATE_OPENAPI,
    summary="Validate and save a template",
)
def create_workflow(request: HttpRequest, query: Query[SaveQuery]) -> Any:
    team = _team(request, query.team)
    content_type = _template_type(request)
    text = _body_text(request)
    data = parse_source(text, content_type)
    version = template_save(
        data=data,
        source=text,
        content_type=content_type,
        team=team,
        created_by=caller(request),
        channel="api",
    )
    return Status(201, _detail(version.template))


@router.get("/{name}", response={200: TemplateDetailOut, **error_responses(404)}, summary="One template")
def get_workflow(request: HttpRequest, name: str) -> Any:
    template = _with_version(templates_visible_to(caller(request)).filter(name=name)).first()
    if template is None:
        raise Http404("No such workflow.")
    return _detail(template)


def _team(request: HttpRequest, slug: str | None) -> Team | None:
    if slug is None:
        return None
    team = teams_of(caller(request)).filter(slug=slug).first()
    if team is None:
        raise Http404("No such team.")
    return team


def _template_type(request: HttpRequest) -> str:
    content_type = request.content_type or ""
    if content_type in JSON_TYPES:
        return "application/json"
    if content_type in YAML_TYPES:
        return "application/yaml"
    raise ApiError(415, "Send the template as application/json or application/yaml.")


def _body_text(request: HttpRequest) -> str:
    """The body as text. Aliases, nesting depth and what JSON cannot hold are checked by
    parse_source, in the one pass that builds the document."""
    if len(request.body) > MAX_TEMPLATE_BYTES:
        raise ApiError(413, f"A template is at most {MAX_TEMPLATE_BYTES // 1024} KiB.")
    try:
        return request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Replacing the bytes would save a source that differs from what was sent.
        raise TemplateInvalid(
            [Problem(f"not valid UTF-8 (byte {exc.start}): send the template as UTF-8")]
        ) from None


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
