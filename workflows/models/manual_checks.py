from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from workflows.models.projects import Project


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

    class Meta:
        ordering = ["project", "spec_id", "task_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "spec_id", "task_id"], name="one_manual_check_per_task"
            )
        ]

    def __str__(self) -> str:
        return f"{self.spec_id} {self.task_id} checked"
