"""Forms of the workflow pages (the admin keeps its own in workflows/admin.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from workflows.models import Project
from workflows.models.projects import MergeStrategy, PrProvider


class ProjectSettingsForm(forms.ModelForm):
    """A form of project settings the service saves (services.projects.project_update): the
    form reads the values, and the model's validators check them once, in the service, as
    for the API. The instance is left as it is until the service changes it."""

    group = ""  # the keyword project_update takes these settings by

    def _post_clean(self) -> None:
        pass

    def settings(self) -> dict[str, Any]:
        """The submitted values, as project_update's `group` keyword takes them (a form
        that tidies its values first says how)."""
        return {name: self.cleaned_data.get(name) for name in self._meta.fields or ()}


class ReadingForm(ProjectSettingsForm):
    group = "reading"
    """How a project's specs are read. The values are checked by the model's validators
    when the service saves them (services.projects.project_update), as for the API."""

    source_roots = forms.CharField(
        required=False,
        label=_("Source roots"),
        help_text=_(
            "Folders where file paths named in tasks are also looked for, one per line, e.g. apps/web."
        ),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    class Meta:
        model = Project
        fields = ["spec_format", "specs_root", "implicit_evidence", "source_roots", "positional_task_ids"]
        labels = {
            "spec_format": _("Spec format"),
            "specs_root": _("Specs folder"),
            "implicit_evidence": _("Implicit evidence"),
            "positional_task_ids": _("Positional ids for items without an id"),
        }

    @classmethod
    def for_project(cls, project: Project) -> ReadingForm:
        return cls(instance=project, initial={"source_roots": "\n".join(project.source_roots or [])})

    def clean_source_roots(self) -> list[str]:
        text = self.cleaned_data.get("source_roots") or ""
        return [line.strip().strip("/") for line in text.splitlines() if line.strip()]

    def settings(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["specs_root"] = (data.get("specs_root") or "").strip().strip("/")
        return {name: data[name] for name in self.Meta.fields}


class SpendingForm(ProjectSettingsForm):
    """What a project's agent steps may spend, and what tokens cost (USD; empty: none).
    Checked by the model's validators when the service saves them, as for the API."""

    group = "spending"

    class Meta:
        model = Project
        fields = ["budget_per_run", "budget_per_month", "price_input_per_mtok", "price_output_per_mtok"]
        labels = {
            "budget_per_run": _("Budget per run (USD)"),
            "budget_per_month": _("Budget per month (USD)"),
            "price_input_per_mtok": _("Price per million input tokens (USD)"),
            "price_output_per_mtok": _("Price per million output tokens (USD)"),
        }
        help_texts = {
            "budget_per_run": _(
                "A run stops before its next agent step once it has spent this. Empty: no limit."
            ),
            "budget_per_month": _(
                "Runs stop before their next agent step once the project's agent steps spent this "
                "in the calendar month. Empty: no limit."
            ),
            "price_input_per_mtok": _("Gives a cost to agents that report tokens but no cost."),
            "price_output_per_mtok": _("Gives a cost to agents that report tokens but no cost."),
        }


class GitForm(ProjectSettingsForm):
    """Where a project's runs branch from, how approved reviews merge them back, and where
    they are published. Checked by the model's validators when the service saves them
    (services.projects.project_update)."""

    group = "git"

    merge_strategy = forms.ChoiceField(
        choices=[
            (MergeStrategy.MERGE_COMMIT, _("a merge commit")),
            (MergeStrategy.FAST_FORWARD, _("a fast-forward (refused when the base branch has moved on)")),
        ],
        required=False,
        label=_("An approved review merges with"),
        help_text=_(
            "How a review gate's approval brings a run's branch into its base branch, unless the "
            "gate names its own. Nothing is ever forced: a conflict is shown and refuses the approval."
        ),
    )
    pr_provider = forms.ChoiceField(choices=PrProvider.choices, required=False, label=_("Pull requests"))

    class Meta:
        model = Project
        fields = [
            "base_branch",
            "merge_strategy",
            "git_remote",
            "pr_provider",
            "pr_api_url",
            "pr_repository",
            "git_token_env",
        ]
        labels = {
            "base_branch": _("Base branch"),
            "git_remote": _("Git remote"),
            "pr_provider": _("Pull requests"),
            "pr_api_url": _("Provider API URL"),
            "pr_repository": _("Repository on the provider"),
            "git_token_env": _("Token environment variable"),
        }
        help_texts = {
            "base_branch": _("The branch each run's own branch starts from; empty for the current branch."),
            "git_remote": _(
                "Where published runs' branches are pushed: an https://, ssh:// or git:// URL without "
                "credentials, user@host:path, or an absolute path on the server; empty for none."
            ),
            "pr_api_url": _(
                "Empty for api.github.com or gitlab.com; e.g. https://gitlab.example.com/api/v4."
            ),
            "pr_repository": _("owner/name on GitHub; the project's path or id on GitLab."),
            "git_token_env": _(
                "The NAME of the server's environment variable that holds the token, e.g. GITHUB_TOKEN; "
                "never the token itself."
            ),
        }

    def settings(self) -> dict[str, Any]:
        values = {name: (self.cleaned_data.get(name) or "").strip() for name in self.Meta.fields}
        values["pr_provider"] = values["pr_provider"] or "none"
        values["merge_strategy"] = values["merge_strategy"] or self.instance.merge_strategy
        return values
