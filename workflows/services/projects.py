from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Team
from accounts.services import audit_record
from workflows.models import Project
from workflows.workspace_policy import remote_refusal, workspace_resolve

# The Project fields that say how the workspace's specs are read (Project.read_options).
READ_SETTINGS = ("spec_format", "specs_root", "implicit_evidence", "source_roots", "positional_task_ids")
# What agent steps may spend and what tokens cost (USD; None: no limit, no price).
SPENDING_SETTINGS = ("budget_per_run", "budget_per_month", "price_input_per_mtok", "price_output_per_mtok")
# The Project fields that say where a run's branch starts, how an approved review merges it
# back, and where it is published (workflows.engine.git_runs, git_merge, git_publish).
GIT_SETTINGS = (
    "base_branch",
    "merge_strategy",
    "git_remote",
    "pr_provider",
    "pr_api_url",
    "pr_repository",
    "git_token_env",
)


def _check(project: Project, changed: Iterable[str]) -> None:
    """The model's validators on the changed fields, and the publish settings together
    when one of them changed (Project.publish_problems); ValidationError per field."""
    changed = set(changed)
    errors: dict[str, list[object]] = {}
    try:
        project.clean_fields(exclude=[f.name for f in Project._meta.fields if f.name not in changed])
    except ValidationError as exc:
        # Each message as it was raised: a sentence (Text) stays one for the pages.
        errors = {
            field: [error.message % error.params if error.params else error.message for error in found]
            for field, found in exc.error_dict.items()
        }
    remote_problem = remote_refusal(project.git_remote) if "git_remote" in changed else None
    if remote_problem and "git_remote" not in errors:
        errors["git_remote"] = [remote_problem]
    if changed & set(GIT_SETTINGS):
        for field, problem in project.publish_problems().items():
            errors.setdefault(field, []).append(problem)
    if errors:
        raise ValidationError(errors)


def project_create(
    *,
    team: Team,
    slug: str,
    name: str,
    workspace: str,
    shell_allowlist: list[str] | None = None,
    base_branch: str = "",
    reading: dict[str, object] | None = None,
    spending: dict[str, object] | None = None,
    git: dict[str, object] | None = None,
    created_by: User | None,
    channel: str,
) -> Project:
    """Create a project; raises WorkspaceNotAllowed for a workspace outside the roots and
    ValidationError for reading settings (READ_SETTINGS), budgets and prices
    (SPENDING_SETTINGS) or git settings (GIT_SETTINGS) the model's validators refuse."""
    resolved = workspace_resolve(workspace)
    unknown = (
        (set(reading or {}) - set(READ_SETTINGS))
        | (set(spending or {}) - set(SPENDING_SETTINGS))
        | (set(git or {}) - set(GIT_SETTINGS))
    )
    if unknown:
        raise ValueError(f"not reading, spending or git settings: {', '.join(sorted(unknown))}")
    git = {"base_branch": base_branch, **(git or {})}
    settings = {**(reading or {}), **(spending or {}), **git}
    project = Project(
        team=team,
        slug=slug,
        name=name,
        workspace=str(resolved),
        shell_allowlist=sorted(set(shell_allowlist or [])),
        **settings,
    )
    _check(project, settings)
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
    updated_by: User,
    channel: str,
    name: str | None = None,
    shell_allowlist: list[str] | None = None,
    base_branch: str | None = None,
    reading: dict[str, object] | None = None,
    spending: dict[str, object] | None = None,
    git: dict[str, object] | None = None,
) -> Project:
    """Rename a project, change which programs its shell steps may run, how its specs are
    read (`reading`: any of READ_SETTINGS), its agent budgets and token prices (`spending`:
    any of SPENDING_SETTINGS; None removes one) or its git settings (`git`: any of
    GIT_SETTINGS: base branch, merge strategy, remote, pull requests) (team admins). Raises ValidationError,
    naming the field, for a value the model's validators refuse; nothing is saved then."""
    changes: dict[str, object] = {}
    if name is not None and name != project.name:
        changes["name"] = name
    if shell_allowlist is not None:
        allowlist = sorted(set(shell_allowlist))
        if allowlist != project.shell_allowlist:
            changes["shell_allowlist"] = allowlist
    if base_branch is not None and base_branch != project.base_branch:
        changes["base_branch"] = base_branch
    for field, value in (reading or {}).items():
        if field not in READ_SETTINGS:
            raise ValueError(f"{field!r} is not a reading setting")
        if value != getattr(project, field):
            changes[field] = value
    for field, value in (spending or {}).items():
        if field not in SPENDING_SETTINGS:
            raise ValueError(f"{field!r} is not a spending setting")
        if value != getattr(project, field):
            changes[field] = value
    for field, value in (git or {}).items():
        if field not in GIT_SETTINGS:
            raise ValueError(f"{field!r} is not a git setting")
        if value != getattr(project, field):
            changes[field] = value
    if not changes:
        return project
    before = {field: getattr(project, field) for field in changes}
    for field, value in changes.items():
        setattr(project, field, value)
    try:
        _check(project, changes)
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
            data={"before": _as_json(before), "after": _as_json(changes)},
        )
    return project


def _as_json(values: dict[str, object]) -> dict[str, object]:
    """Settings as the audit log's JSON keeps them: amounts as text ("0.50")."""
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in values.items()}
