from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from workflows.domain.verification import ManualCheck as CheckData
from workflows.domain.verification import ManualChecks
from workflows.models.projects import Project


class ManualCheckQuerySet(models.QuerySet["ManualCheck"]):
    """The recorded checks as the domain takes them (task id -> check): the pages, the API,
    the command box and the engine all read them here."""

    def for_spec(self, project: Project, spec_id: str) -> ManualChecks:
        rows = self.filter(project=project, spec_id=spec_id).select_related("checked_by")
        return {row.task_id: row.as_check() for row in rows}

    def by_spec(self, project: Project) -> dict[str, ManualChecks]:
        """Every spec's checks: spec id -> task id -> check."""
        found: dict[str, dict[str, CheckData]] = {}
        for row in self.filter(project=project).select_related("checked_by"):
            found.setdefault(row.spec_id, {})[row.task_id] = row.as_check()
        return found  # type: ignore[return-value]


class ManualCheck(models.Model):
    """A person checked a task that only a person can check (its hooks are ui hooks).

    The verification counts the task as verified while `fingerprint` still matches the
    task's text and hooks (workflows.domain.verification.manual_fingerprint); once they
    change, the check is out of date and the task needs a manual check again.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="manual_checks")
    spec_id = models.CharField(max_length=200)
    task_id = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64, help_text="Of the task's text and its hooks' raw text.")
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    checked_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    objects = ManualCheckQuerySet.as_manager()

    class Meta:
        ordering = ["project", "spec_id", "task_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "spec_id", "task_id"], name="one_manual_check_per_task"
            )
        ]

    def __str__(self) -> str:
        return f"{self.spec_id} {self.task_id} checked"

    @property
    def reason(self) -> str:
        """What verification says of the task while the check holds."""
        who = self.checked_by.get_username() if self.checked_by is not None else "someone"
        when = timezone.localtime(self.checked_at).strftime("%Y-%m-%d")
        note = self.note.strip()
        return f"checked by {who} on {when}: {note}" if note else f"checked by {who} on {when}"

    def as_check(self) -> CheckData:
        return CheckData(self.fingerprint, self.reason)
