from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Role
from accounts.permissions import has_role


class WorkflowTemplate(models.Model):
    """A named workflow; every save adds a TemplateVersion, and runs keep the one they used.

    A template belongs to one team, whose projects run it and whose admins change it; one
    without a team is built-in or shared by every team, and only staff change it.
    """

    name = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    builtin = models.BooleanField(default=False)
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="templates",
        help_text="The team that owns it; empty for built-in and shared templates (staff only).",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def latest(self) -> TemplateVersion | None:
        return self.versions.order_by("-number").first()

    def may_be_run_by(self, team_id: int) -> bool:
        """A team's projects run its own templates and the shared ones."""
        return self.team_id is None or self.team_id == team_id

    def may_be_changed_by(self, user: Any) -> bool:
        if user is None or not user.is_authenticated or not user.is_active:
            return False
        if user.is_staff:
            return True
        return self.team_id is not None and has_role(user, self.team_id, Role.ADMIN)


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


class BuiltinTemplateSet(models.Model):
    """One set of built-in template files, by checksum, that has been installed here.

    workflows.services.templates installs the files shipped in engine/builtin_templates/
    the first time a lookup finds no row for their checksum; a release that changes them
    has a new checksum, so its versions are installed once, on the first lookup after it.
    """

    checksum = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the built-in files.")
    installed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"built-in templates {self.checksum[:12]}"
