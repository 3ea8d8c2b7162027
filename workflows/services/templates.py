"""Saving workflow templates: validated, versioned, and the built-in ones kept current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, Team
from accounts.permissions import has_role, team_ids_with_role
from accounts.services import audit_record
from workflows.domain.texts import Text
from workflows.engine.definitions import parse_source, validate
from workflows.models import TemplateVersion, WorkflowTemplate

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "engine" / "builtin_templates"


class TemplateForbidden(PermissionDenied):
    """The caller may not save this template (whose it is decides, see WorkflowTemplate)."""


def template_save(
    *,
    data: dict[str, Any] | None = None,
    source: str | None = None,
    content_type: str = "application/json",
    team: Team | None = None,
    created_by: User | None,
    channel: str,
    builtin: bool = False,
) -> TemplateVersion:
    """Validate and save a template; a changed definition becomes a new version.

    A new template belongs to `team` (by default the one team the author administers); a
    new version of an existing one stays with its team. Only that team's admins and staff
    may save it; built-in and shared templates only staff (or the system itself).
    Raises TemplateInvalid naming the step and field of every problem, TemplateForbidden
    when the author may not; nothing is saved then.
    """
    if data is None:
        data = parse_source(source or "", content_type)
    definition = validate(data)
    stored = json.loads(json.dumps(data))  # what was submitted, once it validated
    text = source if source is not None else json.dumps(data, indent=2, ensure_ascii=False)
    # The system itself (installing the built-ins, management commands) saves with no author.
    trusted = channel == "system" and created_by is None
    with transaction.atomic():
        template = WorkflowTemplate.objects.select_for_update().filter(name=definition.name).first()
        if not trusted:
            team = _owner_check(template, team, created_by, definition.name)
        if template is None:
            template = WorkflowTemplate.objects.create(
                name=definition.name, description=definition.description, builtin=builtin, team=team
            )
        latest = template.latest
        if latest is not None and latest.definition == stored:
            return latest
        version = TemplateVersion.objects.create(
            template=template,
            number=(latest.number + 1) if latest else 1,
            definition=stored,
            source=text,
            created_by=created_by,
        )
        template.description = definition.description
        template.updated_at = timezone.now()
        template.save(update_fields=["description", "updated_at"])
        audit_record(
            action="workflows.template.saved",
            channel=channel,
            actor=created_by,
            team=template.team,
            obj=template,
            data={"version": version.number},
        )
    return version


def _owner_check(
    template: WorkflowTemplate | None, team: Team | None, user: User | None, name: str
) -> Team | None:
    """The team the saved template belongs to, or TemplateForbidden saying why not."""
    if user is None or not user.is_authenticated or not user.is_active:
        raise TemplateForbidden(Text("Saving a workflow template needs a signed-in user."))
    if template is not None:
        if team is not None and team.pk != template.team_id:
            raise TemplateForbidden(
                Text("The name {name!r} is taken by another template; choose another name.", name=name)
            )
        if not template.may_be_changed_by(user):
            if template.team_id is None:
                raise TemplateForbidden(
                    Text("{name!r} is a built-in or shared template; only staff may change it.", name=name)
                )
            raise TemplateForbidden(
                Text("The name {name!r} belongs to another team's template; choose another name.", name=name)
            )
        return template.team
    if team is None:
        if user.is_staff:
            return None  # staff may add a template every team shares
        admin_of = team_ids_with_role(user, Role.ADMIN)
        if len(admin_of) != 1:
            raise TemplateForbidden(
                Text(
                    "Saving a workflow template needs the admin role in a team "
                    "(name the team: you administer several)."
                )
                if admin_of
                else Text("Saving a workflow template needs the admin role in a team.")
            )
        return Team.objects.get(pk=admin_of[0])
    if not (user.is_staff or has_role(user, team, Role.ADMIN)):
        raise TemplateForbidden(
            Text("Saving a workflow template for {team} needs the admin role there.", team=team.name)
        )
    return team


def templates_install_builtin() -> list[TemplateVersion]:
    """Install or update the built-in templates shipped in engine/builtin_templates/."""
    return [
        template_save(
            source=path.read_text(),
            content_type="application/yaml",
            created_by=None,
            channel="system",
            builtin=True,
        )
        for path in sorted(BUILTIN_DIR.glob("*.yaml"))
    ]
