from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from workflows.domain import git_remotes
from workflows.domain.layouts import folder_setting_problem
from workflows.domain.spec_formats import AUTO, FORMAT_CHOICES, ReadOptions, SpecFormat
from workflows.domain.texts import Text


def validate_folder(value: str) -> None:
    """A specs root: a folder relative to the workspace (workflows.domain.layouts)."""
    if value and (problem := folder_setting_problem(value)):
        raise ValidationError(problem)


def validate_folders(value: object) -> None:
    """Source roots: a list of folders relative to the workspace."""
    if not isinstance(value, list) or len(value) > 20 or not all(isinstance(v, str) for v in value):
        raise ValidationError(Text("a list of at most 20 folder names"))
    for folder in value:
        if problem := folder_setting_problem(folder):
            raise ValidationError(Text("{folder!r}: {problem}", folder=folder, problem=problem))


class MergeStrategy(models.TextChoices):
    """How an approved review brings a run's branch into the base branch (engine/git_merge.py)."""

    MERGE_COMMIT = "merge_commit", "merge commit"
    FAST_FORWARD = "fast_forward", "fast-forward"


def validate_amount(value: Decimal | None) -> None:
    """A price or budget in USD: a finite number, zero or more."""
    if value is None:
        return
    if not Decimal(value).is_finite():
        raise ValidationError(_("must be a number"))
    if value < 0:
        raise ValidationError(_("must be zero or more, not %(value)s"), params={"value": value})


def amount_field(help_text: str) -> models.DecimalField:
    return models.DecimalField(
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[validate_amount],
        help_text=help_text,
    )


def validate_git_remote(value: str) -> None:
    """A git remote: a URL without credentials, or an absolute path. Whether the app may push
    to that path is workspace_policy.remote_refusal's rule (it reads the other projects'
    workspaces), which the service and the forms apply after this."""
    if problem := git_remotes.remote_problem(value):
        raise ValidationError(problem)


def validate_api_url(value: str) -> None:
    if problem := git_remotes.api_url_problem(value):
        raise ValidationError(problem)


def validate_env_name(value: str) -> None:
    if problem := git_remotes.env_name_problem(value):
        raise ValidationError(problem)


NEEDS_TOKEN = Text("opening a pull request needs a token: name its environment variable")


class ImplicitEvidence(models.TextChoices):
    """Whether a task naming an existing file counts as its evidence when it has no hook."""

    AUTO = "auto", "On for spec-kit, Kiro and OpenSpec"
    ON = "on", "On"
    OFF = "off", "Off"


class PrProvider(models.TextChoices):
    """Where a published run's pull request is opened (engine/git_publish.py)."""

    NONE = "none", _("No pull request")
    GITHUB = "github", "GitHub"
    GITLAB = "gitlab", "GitLab"


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
        choices=ImplicitEvidence.choices,
        default=ImplicitEvidence.AUTO,
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
    git_remote = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_git_remote],
        help_text="Where published runs' branches are pushed: an https://, ssh:// or git:// URL "
        "(no credentials in it), user@host:path, or an absolute path on the server; empty for none.",
    )
    pr_provider = models.CharField(
        max_length=16,
        choices=PrProvider.choices,
        default=PrProvider.NONE,
        help_text="Open a pull request (merge request) on this host after the push.",
    )
    pr_api_url = models.CharField(
        max_length=300,
        blank=True,
        validators=[validate_api_url],
        help_text="The provider's API, e.g. https://api.github.com or https://gitlab.example.com/api/v4; "
        "empty for github.com or gitlab.com.",
    )
    pr_repository = models.CharField(
        max_length=200,
        blank=True,
        help_text="The repository on the provider: owner/name on GitHub, the project's path or id on GitLab.",
    )
    git_token_env = models.CharField(
        max_length=100,
        blank=True,
        validators=[validate_env_name],
        help_text="Name of the environment variable that holds the token for the push and the pull "
        "request (never the token itself).",
    )
    positional_task_ids = models.BooleanField(
        default=False, help_text="Give checkbox items without a task id a stable id from their position."
    )
    # What agent steps may spend (USD; empty: no limit). A run stops before an agent step
    # once what it (or the project this month) spent reaches the budget.
    budget_per_run = amount_field("USD a run's agent steps may spend; empty for no limit.")
    budget_per_month = amount_field(
        "USD the project's agent steps may spend per calendar month; empty for no limit."
    )
    # Prices that give a cost to tokens an agent reports without one.
    price_input_per_mtok = amount_field("USD per million input tokens, for agents that report no cost.")
    price_output_per_mtok = amount_field("USD per million output tokens, for agents that report no cost.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("project_detail", args=[self.slug])

    def read_options(self) -> ReadOptions:
        """How the workspace is read: the project's format and evidence settings."""
        implicit = {ImplicitEvidence.ON.value: True, ImplicitEvidence.OFF.value: False}.get(
            self.implicit_evidence
        )
        return ReadOptions(
            format=self.spec_format if self.spec_format in FORMAT_CHOICES else AUTO,
            specs_root=self.specs_root.strip("/") or None,
            implicit_evidence=implicit,
            source_roots=tuple(str(r).strip("/") for r in self.source_roots or ()),
            positional_ids=self.positional_task_ids,
        )

    def publish_problems(self) -> dict[str, str]:
        """How the remote and pull-request settings disagree with each other, per field (as
        sentences that pages say in the reader's language)."""
        problems: dict[str, str] = {}
        if self.pr_provider not in git_remotes.PROVIDERS:
            problems["pr_provider"] = Text("choose none, github or gitlab")
        elif self.pr_provider != "none":
            if not self.git_remote:
                problems["git_remote"] = Text("a pull request needs a remote to push the branch to")
            if not self.pr_repository:
                problems["pr_repository"] = Text("name the repository the pull request is opened on")
            elif problem := git_remotes.repository_problem(self.pr_provider, self.pr_repository):
                problems["pr_repository"] = problem
            if not self.git_token_env:
                problems["git_token_env"] = NEEDS_TOKEN
        return problems

    @property
    def workspace_path(self) -> Path:
        return Path(self.workspace)
