"""Manual checks: a person vouches for a task only a person can check (ui hooks).

The one rule, used by every door (spec page, REST API, engine): a member (or higher) of
the project's team may record a check on a task of a spec whose hooks are all ui hooks
(needs_manual); the check holds while the task's text and hooks stay as they were. The
domain gets the checks as plain data (`ManualCheck.objects.for_spec`), so verification
stays pure.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import Role
from accounts.permissions import has_role
from accounts.services import audit_record
from workflows.domain.texts import Code, Text
from workflows.domain.verification import (
    TaskResult,
    TaskStatus,
    decide_status,
    manual_fingerprint,
)
from workflows.models import ManualCheck, Project
from workflows.specs import project_spec

NOTE_MAX_LENGTH = 2000


class ManualCheckError(ValueError):
    """The check cannot be recorded; `code` is a service code (invalid, not_found)."""

    def __init__(self, message: str, code: str = "invalid", field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


def is_manual_only(task: TaskResult) -> bool:
    """The task's own hooks can only be checked by a person (whether or not it was)."""
    return bool(task.hooks) and decide_status(task.hooks) is TaskStatus.NEEDS_MANUAL


def _task(project: Project, spec_id: str, task_id: str) -> TaskResult:
    detail, _ = project_spec(project, spec_id)
    task = next((t for t in detail.verification.tasks if t.id == task_id), None)
    if task is None:
        raise ManualCheckError(
            Text("The spec {spec} has no task {task!r}.", spec=spec_id, task=task_id), field="task_id"
        )
    if not is_manual_only(task):
        raise ManualCheckError(
            Text(
                "{task} is {status}, not a task that needs a manual check: only tasks whose "
                "evidence is ui hooks alone can be checked by hand.",
                task=task_id,
                status=Code(task.status),
            ),
            field="task_id",
        )
    return task


def _require_member(project: Project, by: User | None) -> None:
    if by is None or not has_role(by, project.team_id, Role.MEMBER):
        raise PermissionDenied(Text("Recording a manual check needs the member role."))


def manual_check_record(
    *, project: Project, spec_id: str, task_id: str, note: str, by: User | None, channel: str
) -> ManualCheck:
    """Record (or renew) that `by` checked the task by hand; audited."""
    _require_member(project, by)
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ManualCheckError(
            Text("The note is longer than {limit} characters.", limit=NOTE_MAX_LENGTH), field="note"
        )
    task = _task(project, spec_id, task_id)
    fingerprint = manual_fingerprint(task.id, task.title, (r.hook for r in task.hooks))
    with transaction.atomic():
        check, _ = ManualCheck.objects.update_or_create(
            project=project,
            spec_id=spec_id,
            task_id=task_id,
            defaults={
                "fingerprint": fingerprint,
                "checked_by": by,
                "checked_at": timezone.now(),
                "note": note,
            },
        )
        audit_record(
            action="workflows.manual_check.recorded",
            channel=channel,
            actor=by,
            team=project.team,
            obj=check,
            data={"spec_id": spec_id, "task_id": task_id, "note": note},
        )
    return check


def manual_check_withdraw(
    *, project: Project, spec_id: str, task_id: str, by: User | None, channel: str
) -> None:
    """Withdraw a recorded check: the task needs a manual check again; audited."""
    _require_member(project, by)
    with transaction.atomic():
        check = ManualCheck.objects.filter(project=project, spec_id=spec_id, task_id=task_id).first()
        if check is None:
            raise ManualCheckError(
                Text("No manual check is recorded for {task}.", task=task_id), "not_found", "task_id"
            )
        audit_record(
            action="workflows.manual_check.withdrawn",
            channel=channel,
            actor=by,
            team=project.team,
            obj=check,
            data={"spec_id": spec_id, "task_id": task_id},
        )
        check.delete()
