from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from workflows.domain.texts import text_or
from workflows.models.projects import Project
from workflows.models.templates import TemplateVersion


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        WAITING = "waiting"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"
        # Ended without reaching its goal, and not by an error: the autopilot stopped
        # because nothing changed, a task needs a person, or the turn limit was reached.
        STOPPED = "stopped"

    class Outcome(models.TextChoices):
        """Why a finished run ended; `outcome_reason` says it in words."""

        NONE = "", "not finished"
        DONE = "done", "goal reached: the spec is done"
        STEPS_PASSED = "steps_passed", "every step passed"
        FAILED = "failed", "a step failed"
        CANCELLED = "cancelled", "cancelled"
        NO_PROGRESS = "no_progress", "stopped: no progress"
        NEEDS_MANUAL = "needs_manual", "stopped: a task needs a manual check"
        MAX_ITERATIONS = "max_iterations", "stopped: turn limit reached"
        BUDGET = "budget", "stopped: the budget is spent"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.STOPPED)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs")
    spec_id = models.CharField(max_length=200, blank=True, db_index=True)
    template_version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT)
    workflow_name = models.CharField(max_length=80, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The run this one re-runs from a checkpoint.",
    )
    max_parallel = models.PositiveIntegerField(default=4)
    iterations = models.PositiveIntegerField(default=0, help_text="Autopilot turns taken.")
    last_seq = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    # The error as its template and values (workflows.domain.texts.text_to_data), so pages
    # show it in the reader's language; empty when it was not made from a template.
    error_text = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True, default=Outcome.NONE)
    outcome_reason = models.TextField(blank=True, help_text="Why the run ended, in words.")
    # The same sentence as its template and values (workflows.domain.texts.text_to_data), so
    # pages show it in the reader's language; empty when it was not made from a template.
    outcome_text = models.JSONField(default=dict, blank=True)
    git_branch = models.CharField(max_length=255, blank=True, help_text="The run's own git branch, if any.")
    git_base = models.CharField(max_length=64, blank=True, help_text="Commit the run branch started from.")
    git_base_branch = models.CharField(
        max_length=255, blank=True, help_text="The branch the run's branch started from, and merges into."
    )
    pushed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the run's branch was last pushed."
    )
    pull_request_url = models.CharField(
        max_length=500, blank=True, help_text="The pull (merge) request opened for the run's branch."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "status"])]

    def __str__(self) -> str:
        return f"Run {self.pk} · {self.workflow_name}"

    def get_absolute_url(self) -> str:
        return reverse("run_detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def error_sentence(self) -> str:
        """The error as the sentence it was made from (a page shows it translated), or as written."""
        return text_or(self.error_text, self.error)

    @property
    def outcome_sentence(self) -> str:
        """Why the run ended, as the sentence it was made from (a page shows it translated),
        or as written."""
        return text_or(self.outcome_text, self.outcome_reason)

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class Step(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        QUEUED = "queued"
        RUNNING = "running"
        WAITING = "waiting"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.SKIPPED, Status.CANCELLED)
    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.WAITING)
    OPEN = (Status.PENDING, *ACTIVE)

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    key = models.CharField(max_length=200, help_text="Unique in the run: the step id, [item].")
    step_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=32)
    position = models.PositiveIntegerField(default=0)
    needs = models.JSONField(default=list, blank=True, help_text="Keys of the steps it needs.")
    dependents = models.JSONField(default=list, blank=True, help_text="Keys that need it.")
    ready = models.BooleanField(default=False, help_text="Its needs succeeded; waits for a slot.")
    config = models.JSONField(default=dict, blank=True, help_text="The step's `with:`.")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="branches",
        help_text="For a for_each branch: the step that fanned out.",
    )
    for_each = models.JSONField(null=True, blank=True)
    join = models.CharField(max_length=16, blank=True)
    item = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempt = models.PositiveIntegerField(default=0)
    max_retries = models.PositiveIntegerField(default=0)
    infra_retries = models.PositiveIntegerField(
        default=0, help_text="Attempts lost to the infrastructure (a worker that died), retried apart."
    )
    timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    output = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    error_text = models.JSONField(default=dict, blank=True)  # as Run.error_text

    class Meta:
        ordering = ["run", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="one_key_per_run")]
        indexes = [
            models.Index(fields=["run", "status"]),
            models.Index(fields=["status", "lease_until"]),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def error_sentence(self) -> str:
        """The error as the sentence it was made from (a page shows it translated), or as written."""
        return text_or(self.error_text, self.error)

    @property
    def is_group(self) -> bool:
        return self.for_each is not None and self.parent_id is None

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class Event(models.Model):
    """One entry of a run's history; `seq` is gapless and unique within the run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=40)
    step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.CASCADE)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="one_event_per_seq")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.seq} {self.type}"

    def as_message(self) -> dict[str, object]:
        return {
            "run": self.run_id,
            "seq": self.seq,
            "type": self.type,
            "step": self.data.get("key") if self.step_id else None,
            "data": self.data,
            "at": self.created_at.isoformat(),
        }


class Checkpoint(models.Model):
    """What a resumed or re-run run needs: each step's status and output after a step ended."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="checkpoints")
    seq = models.PositiveBigIntegerField(help_text="The event sequence it was taken at.")
    step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.SET_NULL)
    state = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "seq"]

    def __str__(self) -> str:
        return f"Checkpoint of run {self.run_id} at #{self.seq}"
