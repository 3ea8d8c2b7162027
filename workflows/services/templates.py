"""Saving workflow templates: validated, versioned, and the built-in ones kept current.

The built-in templates (engine/builtin_templates/) are installed by the lookups, not by
migrate: every lookup (workflows.services.template_lookups, which the pages, the API, the
command box, the autopilot button and the admin read through, and template_save itself)
first calls templates_builtin_ensure. That costs one query when they are present: a row
of BuiltinTemplateSet holds the checksum of the files, so a release that changes them
installs the new versions once, on the first lookup after it, and never again. A freshly
migrated database, one that a test flushed, or a server started with `migrate` then
`serve` all find them without a step anyone has to remember; an explicit install step
(migrate_all, serve, seed_demo, the worker) would leave out whichever door it forgot.
A staff member's later change to a built-in template stays, as the checksum has not moved.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role, Team
from accounts.permissions import has_role, team_ids_with_role
from accounts.services import audit_record
from workflows.domain.template_source import parse_source
from workflows.domain.template_validation import validate
from workflows.domain.texts import Text
from workflows.models import BuiltinTemplateSet, TemplateVersion, WorkflowTemplate

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
    if not trusted:
        templates_builtin_ensure()  # so that no team takes a built-in's name first
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


def templates_builtin_ensure(*, directory: Path = BUILTIN_DIR) -> None:
    """Install the built-in templates (engine/builtin_templates/) unless these very files
    have been installed already; a file whose template is unchanged adds no version."""
    checksum = _shipped_checksum() if directory == BUILTIN_DIR else _checksum(directory)
    if BuiltinTemplateSet.objects.filter(checksum=checksum).exists():
        return
    files = sorted(directory.glob("*.yaml"))
    try:
        with transaction.atomic():
            for path in files:
                template_save(
                    source=path.read_text(encoding="utf-8"),
                    content_type="application/yaml",
                    created_by=None,
                    channel="system",
                    builtin=True,
                )
            BuiltinTemplateSet.objects.create(checksum=checksum)
    except IntegrityError:
        # Another process installed them at the same moment; theirs stand.
        if not BuiltinTemplateSet.objects.filter(checksum=checksum).exists():
            raise


@functools.cache
def _shipped_checksum() -> str:
    """The shipped files' checksum, read once: they do not change under a running process,
    and every template lookup asks for it."""
    return _checksum(BUILTIN_DIR)


def _checksum(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
