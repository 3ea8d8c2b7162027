from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from accounts.models import Team
from workflows.domain.layouts import folder_setting_problem
from workflows.domain.spec_formats import AUTO, FORMAT_CHOICES, ReadOptions, SpecFormat


def validate_folder(value: str) -> None:
    """A specs root: a folder relative to the workspace (workflows.domain.layouts)."""
    if value and (problem := folder_setting_problem(value)):
        raise ValidationError(problem)


def validate_folders(value: object) -> None:
    """Source roots: a list of folders relative to the workspace."""
    if not isinstance(value, list) or len(value) > 20 or not all(isinstance(v, str) for v in value):
        raise ValidationError("a list of at most 20 folder names")
    for folder in value:
        if problem := folder_setting_problem(folder):
            raise ValidationError(f"{folder!r}: {problem}")


class MergeStrategy(models.TextChoices):
    """How an approved review brings a run's branch into the base branch (engine/git_merge.py)."""

    MERGE_COMMIT = "merge_commit", "merge commit"
    FAST_FORWARD = "fast_forward", "fast-forward"


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
    spec_format = models.CharField(
        max_length=16,
        choices=[(AUTO, "Detect from the files")] + [(f.value, f.label) for f in SpecFormat],
        default=AUTO,
        help_text="How the workspace's specs are written: SmartSpec, spec-kit, Kiro or OpenSpec.",
    )
    specs_root = models.CharField(
        max_length=300,
        blank=True,
        validators=[validate_folder],
        help_text="The folder that holds the specs, relative to the workspace; empty for the format's own.",
    )
    implicit_evidence = models.CharField(
        max_length=8,
        choices=[("auto", "On for spec-kit, Kiro and OpenSpec"), ("on", "On"), ("off", "Off")],
        default="auto",
        help_text="Count a task that names an existing file as (implicit) evidence when it has no hook.",
    )
    source_roots = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_folders],
        help_text="Folders, relative to the workspace, where file paths named in tasks are also looked for.",
    )
    base_branch = models.CharField(
        max_length=200,
        blank=True,
        help_text="Branch a run's git branch starts from when the workspace is a git repository; "
        "empty for the repository's current branch.",
    )
    merge_strategy = models.CharField(
        max_length=16,
        choices=MergeStrategy.choices,
        default=MergeStrategy.MERGE_COMMIT,
        help_text="How an approved review merges a run's git branch into the base branch, unless the "
        "review gate names its own.",
    )
    positional_task_ids = models.BooleanField(
        default=False, help_text="Give checkbox items without a task id a stable id from their position."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("project_detail", args=[self.slug])

    def read_options(self) -> ReadOptions:
        """How the workspace is read: the project's format and evidence settings."""
        implicit = {"on": True, "off": False}.get(self.implicit_evidence)
        return ReadOptions(
            format=self.spec_format if self.spec_format in FORMAT_CHOICES else AUTO,
            specs_root=self.specs_root.strip("/") or None,
            implicit_evidence=implicit,
            source_roots=tuple(str(r).strip("/") for r in self.source_roots or ()),
            positional_ids=self.positional_task_ids,
        )

    @property
    def workspace_path(self) -> Path:
        return Path(self.workspace)
