from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Team
from accounts.services import audit_record
from workflows.models import Project
from workflows.workspace_policy import workspace_resolve

# The Project fields that say how the workspace's specs are read (Project.read_options).
READ_SETTINGS = ("spec_format", "specs_root", "implicit_evidence", "source_roots", "positional_task_ids")


def project_create(
    *,
    team: Team,
    slug: str,
    name: str,
    workspace: str,
    shell_allowlist: list[str] | None = None,
    base_branch: str = "",
    merge_strategy: str = "merge_commit",
    reading: dict[str, object] | None = None,
    created_by: AbstractBaseUser | None,
    channel: str,
) -> Project:
    """Create a project; raises WorkspaceNotAllowed for a workspace outside the roots and
    ValidationError for reading settings (READ_SETTINGS) the model's validators refuse."""
    resolved = workspace_resolve(workspace)
    unknown = set(reading or {}) - set(READ_SETTINGS)
    if unknown:
        raise ValueError(f"not reading settings: {', '.join(sorted(unknown))}")
    project = Project(
        team=team,
        slug=slug,
        name=name,
        workspace=str(resolved),
        shell_allowlist=sorted(set(shell_allowlist or [])),
        base_branch=base_branch,
        merge_strategy=merge_strategy,
        **(reading or {}),
    )
    checked = {*(reading or {}), "merge_strategy"}
    project.clean_fields(exclude=[f.name for f in Project._meta.fields if f.name not in checked])
    with transaction.atomic():
        project.save(force_insert=True)
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
    base_branch: str | None = None,
    merge_strategy: str | None = None,
    reading: dict[str, object] | None = None,
) -> Project:
    """Rename a project, change which programs its shell steps may run, its git settings
    (base branch, merge strategy), or how its specs are read (`reading`: any of
    READ_SETTINGS) (team admins). Raises ValidationError, naming
    the field, for a value the model's validators refuse; nothing is saved then."""
    changes: dict[str, object] = {}
    if name is not None and name != project.name:
        changes["name"] = name
    if shell_allowlist is not None:
        allowlist = sorted(set(shell_allowlist))
        if allowlist != project.shell_allowlist:
            changes["shell_allowlist"] = allowlist
    if base_branch is not None and base_branch != project.base_branch:
        changes["base_branch"] = base_branch
    if merge_strategy is not None and merge_strategy != project.merge_strategy:
        changes["merge_strategy"] = merge_strategy
    for field, value in (reading or {}).items():
        if field not in READ_SETTINGS:
            raise ValueError(f"{field!r} is not a reading setting")
        if value != getattr(project, field):
            changes[field] = value
    if not changes:
        return project
    before = {field: getattr(project, field) for field in changes}
    for field, value in changes.items():
        setattr(project, field, value)
    try:
        project.clean_fields(exclude=[f.name for f in Project._meta.fields if f.name not in changes])
    except ValidationError:
        for field, value in before.items():
            setattr(project, field, value)
        raise
    with transaction.atomic():
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
