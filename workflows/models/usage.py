"""What each agent step attempt used: tokens, cost and wall-clock time."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TypedDict

from django.db import models
from django.db.models import Count, Q, Sum
from django.utils import timezone

from workflows.models.projects import Project
from workflows.models.runs import Run, Step


class Totals(TypedDict):
    """Usage added up: `cost` is None when no attempt's cost is known; `unpriced` counts the
    attempts whose cost is unknown (their share is missing from `cost`)."""

    steps: int
    input_tokens: int
    output_tokens: int
    cost: Decimal | None
    unpriced: int
    seconds: float


def month_start(now: datetime | None = None) -> datetime:
    """The start of the current calendar month in the site's time zone (TIME_ZONE)."""
    local = timezone.localtime(now or timezone.now())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class AgentUsageQuerySet(models.QuerySet["AgentUsage"]):
    def for_run(self, run: Run | int) -> AgentUsageQuerySet:
        return self.filter(run=run)

    def for_spec(self, project: Project, spec_id: str) -> AgentUsageQuerySet:
        return self.filter(project=project, spec_id=spec_id)

    def for_project(self, project: Project | int) -> AgentUsageQuerySet:
        return self.filter(project=project)

    def this_month(self, now: datetime | None = None) -> AgentUsageQuerySet:
        return self.filter(created_at__gte=month_start(now))

    def spent(self) -> Decimal:
        """The known cost added up (unknown costs count as nothing): what budgets compare."""
        return self.aggregate(usd=Sum("cost"))["usd"] or Decimal(0)

    def totals(self) -> Totals:
        row = self.aggregate(
            n=Count("pk"),
            tokens_in=Sum("input_tokens"),
            tokens_out=Sum("output_tokens"),
            usd=Sum("cost"),
            no_cost=Count("pk", filter=Q(cost__isnull=True)),
            time=Sum("seconds"),
        )
        return Totals(
            steps=row["n"],
            input_tokens=row["tokens_in"] or 0,
            output_tokens=row["tokens_out"] or 0,
            cost=row["usd"],
            unpriced=row["no_cost"],
            seconds=float(row["time"] or 0.0),
        )


class AgentUsage(models.Model):
    """One attempt of an agent step: what the agent reported (tokens, maybe a cost) and how
    long it took. Written when the attempt finishes, succeeded or failed."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="usage")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="usage")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="usage")
    spec_id = models.CharField(max_length=200, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="USD; empty when unknown (no cost reported and no prices set).",
    )
    seconds = models.FloatField(help_text="Wall-clock time of the attempt.")
    reported = models.BooleanField(default=False, help_text="The agent reported its usage.")
    created_at = models.DateTimeField(default=timezone.now)

    objects = AgentUsageQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["project", "created_at"]),
            models.Index(fields=["project", "spec_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.step_id}: {self.input_tokens}/{self.output_tokens} tokens"
