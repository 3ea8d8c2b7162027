"""Saving workflow templates: validated, versioned, and the built-in ones kept current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.services import audit_record
from workflows.engine.definitions import parse_source, validate
from workflows.models import TemplateVersion, WorkflowTemplate

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "engine" / "builtin_templates"


def template_save(
    *,
    data: dict[str, Any] | None = None,
    source: str | None = None,
    content_type: str = "application/json",
    created_by: AbstractBaseUser | None,
    channel: str,
    builtin: bool = False,
) -> TemplateVersion:
    """Validate and save a template; a changed definition becomes a new version.

    Raises TemplateInvalid naming the step and field of every problem; nothing is saved then.
    """
    if data is None:
        data = parse_source(source or "", content_type)
    definition = validate(data)
    stored = json.loads(json.dumps(data))  # what was submitted, once it validated
    text = source if source is not None else json.dumps(data, indent=2, ensure_ascii=False)
    with transaction.atomic():
        template, created = WorkflowTemplate.objects.select_for_update().get_or_create(
            name=definition.name,
            defaults={"description": definition.description, "builtin": builtin},
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
            obj=template,
            data={"version": version.number},
        )
    return version


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
