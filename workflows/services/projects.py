from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from accounts.models import Team
from accounts.services import audit_record
from workflows.models import Project
from workflows.workspaces import workspace_resolve


def project_create(
    *,
    team: Team,
    slug: str,
    name: str,
    workspace: str,
    shell_allowlist: list[str] | None = None,
    created_by: AbstractBaseUser | None,
    channel: str,
) -> Project:
    """Create a project; raises WorkspaceNotAllowed for a workspace outside the roots."""
    resolved = workspace_resolve(workspace)
    with transaction.atomic():
        project = Project.objects.create(
            team=team,
            slug=slug,
            name=name,
            workspace=str(resolved),
            shell_allowlist=sorted(set(shell_allowlist or [])),
        )
        audit_record(
            action="workflows.project.created",
            channel=channel,
            actor=created_by,
            team=team,
            obj=project,
            data={"slug": slug, "workspace": str(resolved)},
        )
    return project


def project_update(
    *,
    project: Project,
    updated_by: AbstractBaseUser,
    channel: str,
    name: str | None = None,
    shell_allowlist: list[str] | None = None,
) -> Project:
    """Rename a project or change which programs its shell steps may run (team admins)."""
    changes: dict[str, object] = {}
    if name is not None and name != project.name:
        changes["name"] = name
    if shell_allowlist is not None:
        allowlist = sorted(set(shell_allowlist))
        if allowlist != project.shell_allowlist:
            changes["shell_allowlist"] = allowlist
    if not changes:
        return project
    with transaction.atomic():
        before = {field: getattr(project, field) for field in changes}
        for field, value in changes.items():
            setattr(project, field, value)
        project.save(update_fields=list(changes))
        audit_record(
            action="workflows.project.updated",
            channel=channel,
            actor=updated_by,
            team=project.team,
            obj=project,
            data={"before": before, "after": changes},
        )
    return project
