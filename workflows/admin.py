"""The Django admin as the operations console: runs, steps, approvals, templates, workers."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from workflows.domain.template_source import parse_source
from workflows.domain.template_validation import TemplateInvalid, validate
from workflows.models import (
    AgentUsage,
    ApprovalEntry,
    ApprovalGate,
    ApprovalInvitation,
    Checkpoint,
    Event,
    ManualCheck,
    Project,
    Run,
    Step,
    TemplateVersion,
    WorkerCluster,
    WorkflowTemplate,
)
from workflows.models.projects import PrProvider
from workflows.services import runs as run_services
from workflows.services.errors import RunError
from workflows.services.templates import template_save, templates_builtin_ensure
from workflows.workspace_policy import WorkspaceNotAllowed, remote_refusal, workspace_resolve


class ProjectForm(forms.ModelForm):
    """The workspace is checked here as the API checks it (workflows.workspace_policy)."""

    agent_endpoint = forms.URLField(
        required=False, assume_scheme="https", help_text=Project._meta.get_field("agent_endpoint").help_text
    )
    # Optional here too ("none" when left out), like the other settings a form may not send.
    pr_provider = forms.ChoiceField(
        choices=PrProvider.choices,
        required=False,
        help_text=Project._meta.get_field("pr_provider").help_text,
    )

    class Meta:
        model = Project
        fields = [f.name for f in Project._meta.fields if f.editable and not f.primary_key]

    def clean_workspace(self) -> str:
        try:
            return str(workspace_resolve(self.cleaned_data["workspace"], project_pk=self.instance.pk))
        except WorkspaceNotAllowed as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_pr_provider(self) -> str:
        return self.cleaned_data.get("pr_provider") or "none"

    def clean_git_remote(self) -> str:
        value: str = self.cleaned_data.get("git_remote") or ""
        if problem := remote_refusal(value):
            raise forms.ValidationError(problem)
        return value

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        # The remote and pull-request settings together, as the pages and the API check them.
        for field, problem in self.instance.publish_problems().items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, problem)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    form = ProjectForm
    list_display = ["name", "slug", "team", "workspace", "created_at"]
    list_filter = ["team"]
    search_fields = ["name", "slug", "workspace"]


@admin.register(AgentUsage)
class AgentUsageAdmin(admin.ModelAdmin):
    """What agent steps used, one row per attempt (written by the engine, read-only)."""

    list_display = [
        "created_at",
        "project",
        "run",
        "step",
        "input_tokens",
        "output_tokens",
        "cost",
        "seconds",
    ]
    list_filter = ["project", "reported"]
    search_fields = ["spec_id"]
    list_select_related = ["project", "run", "step"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AgentUsage | None = None) -> bool:
        return False


class StepInline(admin.TabularInline):
    model = Step
    extra = 0
    can_delete = False
    fields = ("key", "kind", "status", "attempt", "max_retries", "started_at", "finished_at", "error")
    readonly_fields = fields
    ordering = ["position", "id"]
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Run | None = None) -> bool:
        return False


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    SPANS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("old", "Older")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Run]) -> QuerySet[Run]:
        value = self.value()
        if value in self.SPANS:
            return queryset.filter(created_at__gte=timezone.now() - self.SPANS[value])
        if value == "old":
            return queryset.filter(created_at__lt=timezone.now() - self.SPANS["7d"])
        return queryset


def _control(request: HttpRequest, queryset: QuerySet[Run], action: str) -> None:
    done, refused = 0, []
    for run in queryset:
        try:
            getattr(run_services, f"run_{action}")(run=run, by=request.user, channel="admin")
            done += 1
        except RunError as exc:
            refused.append(f"run {run.pk}: {exc}")
    if done:
        messages.success(request, f"{action.capitalize()}: {done} run(s).")
    for reason in refused:
        messages.warning(request, reason)


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "workflow_name",
        "project",
        "spec_id",
        "status",
        "outcome",
        "started_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "outcome", "project", AgeFilter, "workflow_name"]
    search_fields = ["id", "spec_id", "workflow_name", "project__slug"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "project",
        "template_version",
        "workflow_name",
        "spec_id",
        "status",
        "params",
        "started_by",
        "parent",
        "max_parallel",
        "iterations",
        "last_seq",
        "error",
        "outcome",
        "outcome_reason",
        "git_branch",
        "git_base",
        "pushed_at",
        "pull_request_url",
        "created_at",
        "started_at",
        "finished_at",
    ]
    inlines = [StepInline]
    actions = ["cancel_runs", "retry_runs", "resume_runs"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs start from a template: the pages, the API, or the command box

    @admin.action(description="Cancel selected runs")
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        _control(request, queryset, "cancel")

    @admin.action(description="Retry selected runs (succeeded steps are kept)")
    def retry_runs(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        _control(request, queryset, "retry")

    @admin.action(description="Resume selected failed runs from their failed step")
    def resume_runs(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        _control(request, queryset, "resume")


@admin.register(Step)
class StepAdmin(admin.ModelAdmin):
    list_display = [
        "key",
        "run",
        "kind",
        "status",
        "attempt",
        "lease_owner",
        "lease_until",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["key", "run__id"]
    readonly_fields = [f.name for f in Step._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["run", "seq", "type", "step", "created_at"]
    list_filter = ["type"]
    search_fields = ["run__id"]
    readonly_fields = [f.name for f in Event._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False


@admin.register(Checkpoint)
class CheckpointAdmin(admin.ModelAdmin):
    list_display = ["run", "seq", "step", "created_at"]
    readonly_fields = [f.name for f in Checkpoint._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class InvitationInline(admin.TabularInline):
    model = ApprovalInvitation
    extra = 0
    fields = ("user", "sent_at", "link_used_at", "escalation")
    readonly_fields = fields


class EntryInline(admin.TabularInline):
    model = ApprovalEntry
    extra = 0
    fields = ("created_at", "user", "kind", "channel", "comment", "form_data", "reply_to")
    readonly_fields = fields
    can_delete = False


@admin.register(ApprovalGate)
class ApprovalGateAdmin(admin.ModelAdmin):
    list_display = ["title", "run", "status", "quorum", "deadline", "created_at", "decided_at"]
    list_filter = ["status", "on_timeout", "escalated"]
    search_fields = ["title", "run__id"]
    readonly_fields = [f.name for f in ApprovalGate._meta.fields]
    inlines = [InvitationInline, EntryInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class VersionInline(admin.TabularInline):
    model = TemplateVersion
    extra = 0
    fields = ("number", "created_by", "created_at", "source")
    readonly_fields = fields
    can_delete = False
    ordering = ["-number"]


class TemplateSourceForm(forms.ModelForm):
    """Edit a template as YAML; saving validates it and adds a version (runs keep theirs)."""

    source = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100, "spellcheck": "false"}),
        help_text="YAML or JSON. Saving a changed template adds a new version.",
    )

    class Meta:
        model = WorkflowTemplate
        fields: list[str] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        latest = self.instance.latest if self.instance.pk else None
        if latest is not None:
            self.fields["source"].initial = latest.source

    def clean_source(self) -> dict[str, object]:
        source = self.cleaned_data["source"]
        try:
            data = parse_source(source, "application/yaml")
            definition = validate(data)
        except TemplateInvalid as exc:
            raise forms.ValidationError([str(p) for p in exc.problems]) from None
        if self.instance.pk and definition.name != self.instance.name:
            raise forms.ValidationError(
                f"The name must stay {self.instance.name!r}; save a new template on /workflows/."
            )
        return {"text": source, "data": data}


@admin.register(WorkflowTemplate)
class WorkflowTemplateAdmin(admin.ModelAdmin):
    """Editing the source here saves a new validated version, as the API and pages do."""

    form = TemplateSourceForm
    list_display = ["name", "description", "team", "builtin", "updated_at"]
    list_filter = ["builtin", "team"]
    search_fields = ["name", "description"]
    readonly_fields = ["name", "description", "team", "builtin", "created_at", "updated_at"]
    fields = ["name", "description", "team", "builtin", "updated_at", "source"]
    inlines = [VersionInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkflowTemplate]:
        templates_builtin_ensure()  # the admin lists them on a fresh database too
        return super().get_queryset(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # new templates are written on /workflows/ or POST /api/v1/workflows

    def save_model(
        self, request: HttpRequest, obj: WorkflowTemplate, form: TemplateSourceForm, change: bool
    ) -> None:
        submitted = form.cleaned_data["source"]
        version = template_save(
            data=submitted["data"],
            source=submitted["text"],
            team=obj.team,
            created_by=cast(User, request.user),  # the admin site admits signed-in staff only
            channel="admin",
        )
        obj.refresh_from_db()
        messages.info(request, f"{obj.name} is at version {version.number}.")


@admin.register(ManualCheck)
class ManualCheckAdmin(admin.ModelAdmin):
    """Recorded by members on the spec page or the API (audited); read-only here."""

    list_display = ["project", "spec_id", "task_id", "checked_by", "checked_at"]
    list_filter = ["project"]
    search_fields = ["spec_id", "task_id", "note"]
    readonly_fields = [f.name for f in ManualCheck._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(WorkerCluster)
class WorkerClusterAdmin(admin.ModelAdmin):
    list_display = ["name", "host", "pid", "workers", "started_at", "last_seen", "alive"]
    readonly_fields = [f.name for f in WorkerCluster._meta.fields]

    @admin.display(boolean=True)
    def alive(self, obj: WorkerCluster) -> bool:
        return obj.is_alive
