from __future__ import annotations

from pathlib import Path

from django.db import models
from django.urls import reverse
from django.utils import timezone

from accounts.models import Team


class Project(models.Model):
    """A team's SmartSpec workspace: a directory on the server that holds `specs/`."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="projects")
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    workspace = models.CharField(
        max_length=500,
        help_text="Directory on the server; inside the data directory or WORKSPACE_ROOTS.",
    )
    shell_allowlist = models.JSONField(
        default=list, blank=True, help_text="Program names a shell step may run."
    )
    agent_command = models.CharField(
        max_length=500,
        blank=True,
        help_text="Command template of the AI coding agent; {prompt_file} is replaced.",
    )
    agent_endpoint = models.URLField(
        blank=True, help_text="OpenAI-compatible chat endpoint (base URL), if no command."
    )
    agent_model = models.CharField(max_length=100, blank=True)
    agent_api_key_env = models.CharField(
        max_length=100,
        blank=True,
        help_text="Name of the environment variable that holds the endpoint's API key.",
    )
    test_command = models.CharField(
        max_length=500,
        blank=True,
        default="python -m pytest -q",
        help_text="How the test_suite_runner workflow runs the project's tests.",
    )
    quality_thresholds = models.JSONField(
        default=dict,
        blank=True,
        help_text="Quality gate thresholds that differ from the defaults, e.g. min_coverage.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("project_detail", args=[self.slug])

    @property
    def workspace_path(self) -> Path:
        return Path(self.workspace)
