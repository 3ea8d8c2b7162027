from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import pgettext_lazy

from workflows.domain.texts import text_or
from workflows.models.runs import Run, Step


class ApprovalGate(models.Model):
    """A human gate on an `approval` step: who may decide, how many must agree, by when."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"
        CANCELLED = "cancelled"

    class OnTimeout(models.TextChoices):
        REJECT = "reject"
        APPROVE = "approve"
        ESCALATE = "escalate"

    step = models.OneToOneField(Step, on_delete=models.CASCADE, related_name="gate")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="gates")
    title = models.CharField(max_length=200)
    approvers = models.JSONField(help_text="Usernames and role:<role> entries.")
    quorum = models.PositiveIntegerField(default=1)
    allow_self_approval = models.BooleanField(default=False)
    reject_ends = models.BooleanField(default=True)
    form = models.JSONField(default=list, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    on_timeout = models.CharField(max_length=16, choices=OnTimeout.choices, default=OnTimeout.REJECT)
    escalate_to = models.JSONField(default=list, blank=True)
    escalate_timeout = models.PositiveIntegerField(null=True, blank=True)
    escalated = models.BooleanField(default=False)
    reminders = models.JSONField(default=list, blank=True, help_text="Seconds before the deadline.")
    reminders_sent = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    form_data = models.JSONField(default=dict, blank=True)
    outcome = models.TextField(blank=True)
    # The outcome as its template and values (workflows.domain.texts.text_to_data), so pages
    # show it in the reader's language; empty when it was not made from a template.
    outcome_text = models.JSONField(default=dict, blank=True)
    # A review gate's approval merges the run's branch (workflows/engine/git_merge.py): what
    # it merged, into which branch, and the resulting commit.
    merge = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "deadline"])]

    def __str__(self) -> str:
        return f"{self.title} (run {self.run_id})"

    def get_absolute_url(self) -> str:
        return reverse("approval_detail", args=[self.pk])

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def outcome_sentence(self) -> str:
        """The outcome as the sentence it was made from (a page shows it translated), or as written."""
        return text_or(self.outcome_text, self.outcome)


class ApprovalInvitation(models.Model):
    """One approver of one gate. The nonce makes their emailed link single-use."""

    gate = models.ForeignKey(ApprovalGate, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    nonce = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    link_used_at = models.DateTimeField(null=True, blank=True)
    escalation = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gate", "user"], name="one_invitation_per_user")]

    def __str__(self) -> str:
        return f"{self.user} on gate {self.gate_id}"


class ApprovalEntry(models.Model):
    """The gate's threaded history: comments, votes and what the system did."""

    class Kind(models.TextChoices):
        APPROVE = "approve"
        REJECT = "reject"
        COMMENT = "comment"
        SYSTEM = "system"

    VERDICTS = (Kind.APPROVE, Kind.REJECT)  # the kinds that are votes

    class Channel(models.TextChoices):
        WEB = "web", pgettext_lazy("channel", "Web")
        EMAIL = "email", pgettext_lazy("channel", "Email link")
        API = "api", pgettext_lazy("channel", "API")
        SYSTEM = "system", pgettext_lazy("channel", "System")

    gate = models.ForeignKey(ApprovalGate, on_delete=models.CASCADE, related_name="entries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    comment = models.TextField(blank=True)
    # A system line as its template and values, as ApprovalGate.outcome_text.
    comment_text = models.JSONField(default=dict, blank=True)
    form_data = models.JSONField(default=dict, blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "approval entries"
        constraints = [
            models.UniqueConstraint(
                fields=["gate", "user"],
                condition=Q(kind__in=["approve", "reject"]),
                name="one_vote_per_person",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.user or 'system'} on gate {self.gate_id}"

    @property
    def is_vote(self) -> bool:
        return self.kind in self.VERDICTS

    @property
    def comment_sentence(self) -> str:
        """A system note as the sentence it was made from (a page shows it translated); what
        a person wrote, as they wrote it."""
        return text_or(self.comment_text, self.comment)
