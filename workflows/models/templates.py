from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class WorkflowTemplate(models.Model):
    """A named workflow; every save adds a TemplateVersion, and runs keep the one they used."""

    name = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    builtin = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def latest(self) -> TemplateVersion | None:
        return self.versions.order_by("-number").first()


class TemplateVersion(models.Model):
    template = models.ForeignKey(WorkflowTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField(help_text="The validated template as a JSON object.")
    source = models.TextField(help_text="The template as it was submitted (YAML or JSON).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["template__name", "-number"]
        constraints = [models.UniqueConstraint(fields=["template", "number"], name="one_number_per_version")]

    def __str__(self) -> str:
        return f"{self.template.name} v{self.number}"

    @property
    def steps(self) -> list[dict[str, Any]]:
        return list(self.definition.get("steps", []))
