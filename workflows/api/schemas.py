"""Input (`…In`) and output (`…Out`) schemas of the REST API.

Inputs are strict (unknown fields are refused) so a typo in a script fails loudly instead
of being ignored. Outputs mirror the models and the SmartSpec domain's `as_dict()` shapes.
Everything here is resolvable at run time: ninja reads these annotations, so nothing is
imported only under TYPE_CHECKING.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import AfterValidator, ConfigDict, GetCoreSchemaHandler, StringConstraints, field_validator
from pydantic_core import CoreSchema, core_schema

from accounts.models import Role
from workflows.api.pagination import PageOut
from workflows.domain.intents import ACTION_KINDS, INTENTS
from workflows.domain.json_values import dotted, json_problems
from workflows.domain.routing import Priority
from workflows.domain.spec_formats import FORMAT_CHOICES
from workflows.domain.status import ImplementationStatus
from workflows.domain.verification import HookOutcome, TaskStatus
from workflows.domain.workspace import SPEC_ID_MAX_LENGTH, SPEC_ID_PATTERN
from workflows.engine.git_changes import FILE_CHANGES
from workflows.engine.reviews import review_detail
from workflows.engine.worktree_turns import waiting_steps
from workflows.models import (
    AgentUsage,
    ApprovalEntry,
    ApprovalGate,
    ImplicitEvidence,
    MergeStrategy,
    PrProvider,
    Run,
    Step,
)
from workflows.services.approvals import blocked_self_approval, may_decide


class OneOf:
    """Annotated metadata: the str must be one of `values`, validated and documented as an
    OpenAPI enum exactly as a `Literal` of them would be. A `Literal` built from values at run
    time is no type to mypy; `Annotated[str, OneOf(...)]` is `str` to it."""

    def __init__(self, values: Iterable[str]) -> None:
        self.values = tuple(str(value) for value in values)

    def __get_pydantic_core_schema__(self, source: type[Any], handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.literal_schema(list(self.values))


# The names the models define, as OpenAPI enums: defined once, there.
RunStatus = Annotated[str, OneOf(Run.Status.values)]
RunOutcome = Annotated[str, OneOf(Run.Outcome.values)]
StepStatus = Annotated[str, OneOf(Step.Status.values)]
GateStatus = Annotated[str, OneOf(ApprovalGate.Status.values)]
MergeStrategyName = Annotated[str, OneOf(MergeStrategy.values)]
PrProviderName = Annotated[str, OneOf(PrProvider.values)]
RoleName = Annotated[str, OneOf(Role.values)]
ImplicitEvidenceName = Annotated[str, OneOf(ImplicitEvidence.values)]
Verdict = Annotated[str, OneOf(ApprovalEntry.VERDICTS)]

# The same shapes the models and the domain accept; checked again by the services.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,49}$"
WORKFLOW_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,79}$"
PROGRAM_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$"  # a program name, never a path


ProgramName = Annotated[str, StringConstraints(pattern=PROGRAM_PATTERN)]
SpecFormatName = Annotated[str, OneOf(FORMAT_CHOICES)]


def _storable_text(value: str) -> str:
    # PostgreSQL's text and jsonb refuse NUL (SQLite keeps it): refused for every database.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Free text a person types (a comment, an intent): any characters a database stores.
Text = Annotated[str, AfterValidator(_storable_text)]


def _storable_json(value: dict[str, Any], name: str) -> dict[str, Any]:
    """What a JSON column keeps as sent: no NaN or Infinity, no NUL, not nested too deep."""
    problems = json_problems(value, limit=1)
    if problems:
        path, message = problems[0]
        raise ValueError(f"{dotted(path) or name}: {message}")
    return value


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid")


# --- errors ------------------------------------------------------------------------------


class FieldErrorOut(Schema):
    field: str | None = Field(None, description="The field (dotted) the problem is about.")
    message: str
    step: str | None = Field(None, description="For workflow templates: the step id.")
    run_id: int | None = Field(None, description="For a conflict with an active run: that run's id.")


class ErrorOut(Schema):
    detail: str
    code: str = Field(..., description="Machine-readable: not_found, forbidden, invalid, …")
    errors: list[FieldErrorOut] | None = None
    run_id: int | None = Field(
        None, description="409 on starting a run: the run of that workflow on that spec still active."
    )


# --- me ------------------------------------------------------------------------------------


class TeamRoleOut(Schema):
    slug: str
    name: str
    role: RoleName


class MeOut(Schema):
    id: int
    username: str
    email: str
    is_staff: bool
    auth: Literal["token", "session"]
    teams: list[TeamRoleOut]


# --- projects and specs -------------------------------------------------------------------------


class ReadingIn(StrictIn):
    """How the workspace's specs are read (all optional; see docs/spec-formats.md)."""

    spec_format: SpecFormatName | None = Field(
        None, description="auto (detect), smartspec, spec-kit, kiro or openspec."
    )
    specs_root: str | None = Field(
        None,
        max_length=300,
        description="Folder holding the specs, relative to the workspace; '' for the format's own.",
    )
    implicit_evidence: ImplicitEvidenceName | None = Field(
        None,
        description="Count a task naming an existing file as implicit evidence "
        "(auto: on for spec-kit, Kiro, OpenSpec).",
    )
    source_roots: list[str] | None = Field(
        None,
        max_length=20,
        description="Folders where paths named in tasks are also looked for, e.g. apps/web.",
    )
    positional_task_ids: bool | None = Field(None, description="Give id-less checkbox items a positional id.")

    def reading(self) -> dict[str, object]:
        return self.model_dump(include=set(ReadingIn.model_fields), exclude_none=True)


# A branch name, or '' (git itself checks the rest of its rules when a run starts).
BRANCH_PATTERN = r"^([A-Za-z0-9_][A-Za-z0-9._/-]*)?$"
BASE_BRANCH_DESCRIPTION = (
    "When the workspace is a git repository: the branch each run's own branch starts from; "
    "'' for the repository's current branch."
)


MERGE_STRATEGY_DESCRIPTION = (
    "How an approved review gate merges a run's branch into the base branch, unless the gate "
    "names its own: merge_commit (always a merge commit) or fast_forward (only when the base "
    "branch has not moved on)."
)


# A budget or a price in USD; null removes it (checked again by the model's validators).
Amount = Annotated[Decimal, Field(ge=0, allow_inf_nan=False, max_digits=12, decimal_places=4)]


class SpendingIn(StrictIn):
    """What agent steps may spend, and what tokens cost (all optional; USD)."""

    budget_per_run: Amount | None = Field(
        None,
        description="USD a run's agent steps may spend; a run stops before the agent step "
        "that finds it spent. null: no limit.",
    )
    budget_per_month: Amount | None = Field(
        None, description="USD the project's agent steps may spend per calendar month. null: no limit."
    )
    price_input_per_mtok: Amount | None = Field(
        None, description="USD per million input tokens, for agents that report tokens but no cost."
    )
    price_output_per_mtok: Amount | None = Field(
        None, description="USD per million output tokens, for agents that report tokens but no cost."
    )

    def spending(self) -> dict[str, object]:
        """The fields sent, null included (it removes a budget or a price)."""
        return {
            name: getattr(self, name) for name in SpendingIn.model_fields if name in self.model_fields_set
        }


class GitIn(StrictIn):
    """How approved reviews merge, and where published runs go (all optional; checked by the
    model's validators)."""

    merge_strategy: MergeStrategyName | None = Field(None, description=MERGE_STRATEGY_DESCRIPTION)
    git_remote: str | None = Field(
        None,
        max_length=500,
        description="Where published runs' branches are pushed: an https://, ssh:// or git:// URL without "
        "credentials, user@host:path, or an absolute path on the server; '' for none.",
    )
    pr_provider: PrProviderName | None = Field(
        None, description="Open a pull request (merge request) there after the push."
    )
    pr_api_url: str | None = Field(
        None, max_length=300, description="The provider's API; '' for api.github.com or gitlab.com/api/v4."
    )
    pr_repository: str | None = Field(
        None, max_length=200, description="owner/name on GitHub; the project's path or id on GitLab."
    )
    git_token_env: str | None = Field(
        None,
        max_length=100,
        description="NAME of the server's environment variable holding the token (never the token).",
    )

    def git(self) -> dict[str, object]:
        return self.model_dump(include=set(GitIn.model_fields), exclude_none=True)


class ProjectCreateIn(ReadingIn, SpendingIn, GitIn):
    team: str = Field(..., pattern=SLUG_PATTERN, description="The team's slug.")
    slug: str = Field(..., pattern=SLUG_PATTERN)
    name: str = Field(..., min_length=1, max_length=200)
    workspace: str = Field(
        ...,
        min_length=1,
        max_length=500,
        description="Absolute directory on the server, inside the data directory or WORKSPACE_ROOTS.",
    )
    shell_allowlist: list[ProgramName] = Field(
        default_factory=list,
        max_length=100,
        description="Program names a shell step may run (no paths).",
    )
    base_branch: str = Field("", max_length=200, pattern=BRANCH_PATTERN, description=BASE_BRANCH_DESCRIPTION)


class ProjectUpdateIn(ReadingIn, SpendingIn, GitIn):
    name: str | None = Field(None, min_length=1, max_length=200)
    shell_allowlist: list[ProgramName] | None = Field(
        None, max_length=100, description="Program names a shell step may run (no paths)."
    )
    base_branch: str | None = Field(
        None, max_length=200, pattern=BRANCH_PATTERN, description=BASE_BRANCH_DESCRIPTION
    )


class UsageOut(Schema):
    """Agent steps' usage added up."""

    steps: int = Field(..., description="Agent step attempts counted.")
    input_tokens: int
    output_tokens: int
    cost_usd: float | None = Field(
        ..., description="Known costs added up; null when no attempt's cost is known."
    )
    unpriced_steps: int = Field(
        ..., description="Attempts whose cost is unknown (no cost reported, no prices set): not in cost_usd."
    )
    seconds: float = Field(..., description="Wall-clock time of the attempts.")

    @staticmethod
    def resolve_cost_usd(obj: Any) -> float | None:
        return None if obj["cost"] is None else float(obj["cost"])

    @staticmethod
    def resolve_unpriced_steps(obj: Any) -> int:
        return int(obj["unpriced"])


class ProjectUsageOut(Schema):
    this_month: UsageOut
    all_time: UsageOut


class StepUsageOut(Schema):
    step: str
    attempt: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None = Field(..., description="null: unknown.")
    seconds: float
    reported: bool = Field(..., description="Whether the agent reported its usage.")
    at: datetime

    @staticmethod
    def resolve_step(obj: Any) -> str:
        return str(obj.step.key)

    @staticmethod
    def resolve_cost_usd(obj: Any) -> float | None:
        return None if obj.cost is None else float(obj.cost)

    @staticmethod
    def resolve_at(obj: Any) -> datetime:
        return obj.created_at  # type: ignore[no-any-return]


class RunUsageOut(Schema):
    total: UsageOut
    steps: list[StepUsageOut] = Field(..., description="One entry per agent step attempt.")


class ProjectOut(Schema):
    slug: str
    name: str
    team: str
    workspace: str
    shell_allowlist: list[str]
    spec_format: str = Field(..., description="The setting: auto or a format.")
    specs_root: str
    implicit_evidence: str
    source_roots: list[str]
    positional_task_ids: bool
    base_branch: str = Field(description=BASE_BRANCH_DESCRIPTION)
    merge_strategy: MergeStrategyName = Field(description=MERGE_STRATEGY_DESCRIPTION)
    budget_per_run: float | None = Field(None, description="USD; null: no limit.")
    budget_per_month: float | None = Field(None, description="USD; null: no limit.")
    price_input_per_mtok: float | None = Field(None, description="USD per million input tokens.")
    price_output_per_mtok: float | None = Field(None, description="USD per million output tokens.")
    usage: ProjectUsageOut = Field(..., description="What the project's agent steps used.")
    git_remote: str
    pr_provider: PrProviderName
    pr_api_url: str
    pr_repository: str
    git_token_env: str = Field(description="The token's environment variable: its name, never its value.")
    created_at: datetime
    url: str

    @staticmethod
    def resolve_team(obj: Any) -> str:
        return str(obj.team.slug)

    @staticmethod
    def resolve_usage(obj: Any) -> dict[str, Any]:
        return {
            "this_month": AgentUsage.objects.for_project(obj).this_month().totals(),
            "all_time": AgentUsage.objects.for_project(obj).totals(),
        }

    @staticmethod
    def resolve_url(obj: Any) -> str:
        return str(obj.get_absolute_url())


class TaskCountsOut(Schema):
    total: int
    checked: int
    verified: int


class DriftOut(Schema):
    checked_not_verified: list[str]
    verified_not_checked: list[str]


class RecommendationOut(Schema):
    workflow: str
    reason: str
    priority: Annotated[str, OneOf(Priority)]
    estimate_minutes: int


class ParseIssueOut(Schema):
    line: int
    severity: str
    message: str


class SpecStatusFields(Schema):
    spec_id: str
    format: SpecFormatName = Field(..., description="The format the spec was read in.")
    category: str | None
    path: str
    has_spec: bool
    has_plan: bool
    has_tasks: bool
    docs_present: bool
    tasks: TaskCountsOut
    completion_rate: float
    verified_ratio: float
    implementation_status: Annotated[str, OneOf(ImplementationStatus)]
    drift: DriftOut
    invalid_hooks: int
    invalid_hook_tasks: list[str] = Field(..., description="Tasks with a malformed or escaping hook.")
    tasks_without_hooks: int = Field(..., description="Counted tasks with no evidence at all.")
    tasks_needs_manual: int = Field(..., description="Counted tasks only a person can check (ui hooks).")
    tests_present: bool
    tests_passed: bool | None
    quality_gate_passed: bool | None
    verified_since_last_change: bool
    last_verify_run: str | None
    warnings: list[str]
    parse_issues: list[ParseIssueOut] = Field(..., description="Problems found while reading tasks.md.")


class SpecStatusOut(SpecStatusFields):
    next: RecommendationOut = Field(..., description="The next workflow of the loop.")


class HookOut(Schema):
    line: int
    type: str
    params: dict[str, str]
    raw: str
    error: str | None
    outcome: Annotated[str, OneOf(HookOutcome)]
    reason: str
    implicit: bool = Field(..., description="A path the task's title names, not a written hook.")


class TaskOut(Schema):
    id: str
    title: str
    line: int
    phase: str | None
    checked: bool
    status: Annotated[str, OneOf(TaskStatus)]
    drift: bool
    reasons: list[str]
    matched_hooks: list[int]
    hooks: list[HookOut]
    parent: str | None = Field(..., description="The parent task of a numbered task (2 for 2.1).")
    optional: bool = Field(..., description="Optional (Kiro's `- [ ]*`): shown, not counted in the totals.")
    in_progress: bool = Field(..., description="Marked in progress (`- [-]`).")
    parallel: bool = Field(
        ..., description="Can run beside the parallel tasks next to it: spec-kit's [P], or a parallel phase."
    )
    story: str | None = Field(..., description="spec-kit's user story marker, e.g. US1.")
    priority: str | None = Field(..., description="The phase's priority, e.g. P1.")
    implicit_evidence: bool = Field(..., description="Verified by a file the task names (no hook).")


class SpecDetailOut(Schema):
    spec_id: str
    status: SpecStatusFields
    recommendation: RecommendationOut
    tasks: list[TaskOut] = Field(..., description="Every task with its verification.")
    issues: list[ParseIssueOut] = Field(..., description="Problems found parsing tasks.md.")
    usage: UsageOut = Field(..., description="What the agent steps of every run on this spec used.")


# --- workflow templates ---------------------------------------------------------------------------


class TemplateOut(Schema):
    name: str
    description: str
    builtin: bool
    latest_version: int | None
    updated_at: datetime


class TemplateVersionOut(Schema):
    number: int
    created_at: datetime
    created_by: str | None


class TemplateDetailOut(TemplateOut):
    definition: dict[str, Any]
    source: str
    versions: list[TemplateVersionOut]


# --- runs ------------------------------------------------------------------------------------


class RunCreateIn(StrictIn):
    project: str = Field(..., pattern=SLUG_PATTERN, description="The project's slug.")
    workflow: str = Field(..., pattern=WORKFLOW_NAME_PATTERN, description="Template name.")
    spec_id: str | None = Field(None, pattern=SPEC_ID_PATTERN, max_length=SPEC_ID_MAX_LENGTH)
    params: dict[str, Any] = Field(default_factory=dict)
    allow_concurrent: bool = Field(
        False,
        description="Start even though a run of this workflow on this spec is still active "
        "(without it that answers 409 with the active run's id).",
    )

    @field_validator("params")
    @classmethod
    def params_are_storable(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _storable_json(value, "params")


class StepOut(Schema):
    key: str
    step_id: str
    kind: str
    status: StepStatus
    position: int
    needs: list[str]
    parent: str | None = Field(None, description="For a for_each branch: the group's key.")
    item: Any = None
    attempt: int
    max_retries: int
    started_at: datetime | None
    finished_at: datetime | None
    output: dict[str, Any]
    error: str
    waiting_for: Literal["", "slot", "worktree"] = Field(
        "",
        description="Why a ready step has not started: 'slot' (the run's max_parallel steps are "
        "active) or 'worktree' (on git, steps that change files take turns in the run's worktree, "
        "and `waiting_behind` has it); '' otherwise.",
    )
    waiting_behind: str = Field(
        "", description="With waiting_for 'worktree': the step that has the worktree."
    )

    @staticmethod
    def resolve_parent(obj: Any) -> str | None:
        return obj.parent.key if obj.parent_id else None

    @staticmethod
    def resolve_waiting_for(obj: Any) -> str:
        wait = getattr(obj, "wait", None)
        return wait.for_ if wait else ""

    @staticmethod
    def resolve_waiting_behind(obj: Any) -> str:
        wait = getattr(obj, "wait", None)
        return wait.behind if wait else ""


class RunOut(Schema):
    id: int
    project: str
    workflow: str
    version: int
    spec_id: str
    status: RunStatus
    outcome: RunOutcome = Field(
        "",
        description="Why a finished run ended: done (the autopilot reached its goal), steps_passed, "
        "failed, cancelled, no_progress, needs_manual, max_iterations, budget (an agent budget was "
        "spent); empty while it runs.",
    )
    outcome_reason: str = Field("", description="The outcome in words, e.g. which task needs a person.")
    params: dict[str, Any]
    started_by: str | None
    parent: int | None
    iterations: int
    last_seq: int
    error: str
    git_branch: str = Field(
        "", description="The run's own git branch; '' when the workspace is no git repository."
    )
    pushed_at: datetime | None = Field(
        None, description="When the branch was last pushed to the project's remote."
    )
    pull_request_url: str = Field("", description="The pull (merge) request opened for the branch, if any.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    url: str

    # Resolvers read the related rows runs_visible_to() already selects.
    @staticmethod
    def resolve_project(obj: Any) -> str:
        return str(obj.project.slug)

    @staticmethod
    def resolve_workflow(obj: Any) -> str:
        return str(obj.workflow_name)

    @staticmethod
    def resolve_version(obj: Any) -> int:
        return int(obj.template_version.number)

    @staticmethod
    def resolve_started_by(obj: Any) -> str | None:
        return obj.started_by.get_username() if obj.started_by_id else None

    @staticmethod
    def resolve_parent(obj: Any) -> int | None:
        return obj.parent_id  # type: ignore[no-any-return]

    @staticmethod
    def resolve_url(obj: Any) -> str:
        return f"/runs/{obj.pk}/"  # the page's address is part of the product's contract


class RunDetailOut(RunOut):
    steps: list[StepOut]
    usage: RunUsageOut = Field(..., description="Tokens, cost and time of the run's agent steps.")

    @staticmethod
    def resolve_usage(obj: Any) -> dict[str, Any]:
        rows = AgentUsage.objects.for_run(obj.pk)
        return {"total": rows.totals(), "steps": list(rows.select_related("step"))}

    @staticmethod
    def resolve_steps(obj: Any) -> list[Any]:
        steps = list(obj.steps.select_related("parent").order_by("position", "id"))
        waits = waiting_steps(obj, steps)
        for step in steps:
            step.wait = waits.get(step.pk)
        return steps


class EventOut(Schema):
    seq: int
    type: str
    step: str | None
    data: dict[str, Any]
    at: datetime


class EventsOut(Schema):
    run: int
    after: int
    items: list[EventOut]
    last_seq: int = Field(..., description="Ask again with after=last_seq for what follows.")
    more: bool = Field(..., description="More events follow beyond this page.")


# --- approvals ------------------------------------------------------------------------------------


class GateOut(Schema):
    id: int
    title: str
    status: GateStatus
    run: int
    project: str
    spec_id: str
    step: str
    quorum: int
    deadline: datetime | None
    created_at: datetime
    decided_at: datetime | None
    url: str

    # Resolvers read the related rows gates_visible_to() already selects.
    @staticmethod
    def resolve_run(obj: Any) -> int:
        return int(obj.run_id)

    @staticmethod
    def resolve_project(obj: Any) -> str:
        return str(obj.run.project.slug)

    @staticmethod
    def resolve_spec_id(obj: Any) -> str:
        return str(obj.run.spec_id)

    @staticmethod
    def resolve_step(obj: Any) -> str:
        return str(obj.step.key)

    @staticmethod
    def resolve_url(obj: Any) -> str:
        from django.urls import NoReverseMatch

        try:
            return str(obj.get_absolute_url())
        except NoReverseMatch:  # without a page of its own, its run's page shows the gate
            return f"/runs/{obj.run_id}/"


class InvitationOut(Schema):
    user: str
    sent_at: datetime | None
    escalation: bool
    voted: Verdict | None


class EntryOut(Schema):
    id: int
    kind: Annotated[str, OneOf(ApprovalEntry.Kind.values)]
    user: str | None
    comment: str
    form_data: dict[str, Any]
    channel: str
    reply_to: int | None
    at: datetime

    @staticmethod
    def resolve_user(obj: Any) -> str | None:
        return obj.user.get_username() if obj.user_id else None

    @staticmethod
    def resolve_reply_to(obj: Any) -> int | None:
        return obj.reply_to_id  # type: ignore[no-any-return]

    @staticmethod
    def resolve_at(obj: Any) -> datetime:
        return obj.created_at  # type: ignore[no-any-return]


class MergeCheckOut(Schema):
    strategy: MergeStrategyName
    branch: str = Field(description="The run's branch.")
    base_branch: str
    base_commit: str
    head: str = Field(description="The run branch's head.")
    commits: int = Field(description="Commits on the run's branch not yet on the base branch.")
    already_merged: bool = Field(description="The base branch has every commit already: nothing to merge.")
    fast_forward: bool = Field(description="The base branch is an ancestor of the head.")
    clean: bool = Field(description="The branch merges into the base branch without a conflict.")
    conflicts: list[str] = Field(description="Files that conflict (git merge-tree).")
    checked_out: bool = Field(description="The base branch is checked out in the project's workspace.")
    dirty: list[str] = Field(description="Workspace files in the way of moving a checked-out base branch.")
    problem: str = Field(description="Why approving would be refused now; '' when it would merge.")
    code: str = Field(
        description="The problem's kind: conflict, not_fast_forward, dirty, checked_out, missing, or ''."
    )


class MergedOut(Schema):
    commit: str = Field(description="The base branch's commit after the merge.")
    previous: str = Field(description="The base branch's commit before it.")
    head: str = Field(description="The run branch's head that was merged.")
    base_branch: str
    branch: str
    strategy: MergeStrategyName
    nothing_to_merge: bool
    at: str


class ReviewTaskOut(Schema):
    id: str
    title: str
    status: str = Field(description="The task's verification status on the run's branch.")
    checked: bool
    reasons: list[str]
    why: list[str] = Field(description="Why it counts as touched by the step.")


class ReviewOut(Schema):
    step: str = Field(description="The key of the step under review.")
    steps: list[str] = Field(
        default_factory=list,
        description="Every step under review, oldest first (the autopilot's batches of parallel tasks).",
    )
    ready: bool = Field(description="The snapshot was taken (the gate has opened).")
    git: bool = Field(description="The run works on a git branch.")
    branch: str
    strategy: MergeStrategyName = Field(description="How approving merges: the gate's, else the project's.")
    from_commit: str = Field("", description="The diff's old side: before the step's first commit.")
    to_commit: str = Field("", description="The diff's new side: the step's last commit.")
    files: list[FileChangeOut] = Field(description="What the step changed, each file with its diff.")
    tasks: list[ReviewTaskOut] = Field(
        default_factory=list, description="The verification of the tasks the step touched."
    )
    total: int = 0
    verified: int = Field(0, description="Tasks of the spec verified after the step.")
    verified_at: str = Field("", description="The commit the verification ran on.")
    verification_error: str = ""
    merge: MergeCheckOut | None = Field(description="What approving would merge now (pending gates only).")
    merged: MergedOut | None = Field(description="What the approval merged.")
    rework_round: int = Field(description="0 for the template's review, n for the review of the n-th rework.")
    rework_limit: int
    rework_left: int = Field(description="Reworks a reject with a comment can still ask for.")
    error: str = ""

    @staticmethod
    def resolve_from_commit(obj: Any) -> str:
        return str(obj.get("from", ""))

    @staticmethod
    def resolve_to_commit(obj: Any) -> str:
        return str(obj.get("to", ""))


class GateDetailOut(GateOut):
    review: ReviewOut | None = Field(
        None,
        description="For a review gate (with: review): the step's diff, its tasks' verification, the merge.",
    )
    approvers: list[str]
    allow_self_approval: bool
    reject_ends: bool
    on_timeout: str
    escalated: bool
    form: list[dict[str, Any]]
    form_data: dict[str, Any]
    outcome: str
    may_decide: bool = Field(..., description="Whether the caller can vote on it now.")
    invitations: list[InvitationOut]
    votes: list[EntryOut]
    entries: list[EntryOut] = Field(..., description="The threaded history, oldest first.")

    @staticmethod
    def resolve_may_decide(obj: Any, context: dict[str, Any]) -> bool:
        user = context["request"].user
        voted = obj.entries.filter(user=user, kind__in=ApprovalEntry.VERDICTS).exists()
        return bool(
            obj.is_pending and not voted and may_decide(obj, user) and not blocked_self_approval(obj, user)
        )

    @staticmethod
    def resolve_invitations(obj: Any) -> list[dict[str, Any]]:
        votes = dict(obj.entries.filter(kind__in=ApprovalEntry.VERDICTS).values_list("user_id", "kind"))
        return [
            {
                "user": inv.user.get_username(),
                "sent_at": inv.sent_at,
                "escalation": inv.escalation,
                "voted": votes.get(inv.user_id),
            }
            for inv in obj.invitations.select_related("user").order_by("id")
        ]

    @staticmethod
    def resolve_review(obj: Any) -> dict[str, Any] | None:
        return review_detail(obj)

    @staticmethod
    def resolve_votes(obj: Any) -> list[Any]:
        entries = obj.entries.select_related("user").filter(kind__in=ApprovalEntry.VERDICTS)
        return list(entries.order_by("created_at", "id"))

    @staticmethod
    def resolve_entries(obj: Any) -> list[Any]:
        return list(obj.entries.select_related("user").order_by("created_at", "id"))


class DecisionIn(StrictIn):
    verdict: Verdict
    comment: Text = Field("", max_length=10_000)
    form: dict[str, Any] = Field(default_factory=dict, description="The gate's form fields.")

    @field_validator("form")
    @classmethod
    def form_is_storable(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _storable_json(value, "form")


# --- intents --------------------------------------------------------------------------------------


class IntentIn(StrictIn):
    text: Text = Field(..., min_length=1, max_length=2000)
    project: str | None = Field(
        None,
        pattern=SLUG_PATTERN,
        description="Needed to execute; also lets `core-001` expand to a spec of the project.",
    )
    execute: bool = Field(False, description="Perform the action under your permissions.")


class IntentActionOut(Schema):
    kind: Annotated[str, OneOf(ACTION_KINDS)]
    workflow: str | None
    spec_id: str | None
    description: str
    needs_spec: bool


class IntentOut(Schema):
    intent: Annotated[str, OneOf(INTENTS)]
    spec_id: str | None
    confidence: float
    action: IntentActionOut
    matched: list[str]
    executed: bool
    message: str
    run: RunOut | None = None
    specs: list[SpecStatusOut] | None = None


# --- pages of lists -----------------------------------------------------------------------------


class ProjectPageOut(PageOut):
    items: list[ProjectOut]


class SpecPageOut(PageOut):
    items: list[SpecStatusOut]


class TemplatePageOut(PageOut):
    items: list[TemplateOut]


class RunPageOut(PageOut):
    items: list[RunOut]


class GatePageOut(PageOut):
    items: list[GateOut]


class FileChangeOut(Schema):
    path: str
    old_path: str = Field("", description="The path before, for a renamed file.")
    status: Annotated[str, OneOf(FILE_CHANGES)]
    additions: int
    deletions: int
    binary: bool = Field(description="A binary file is named, with no diff.")
    diff: str = Field(description="Unified diff of the file (git diff), empty for a binary file.")
    truncated: bool = Field(description="The diff was cut: the file's diff is too big.")


class StepChangesOut(Schema):
    key: str
    commit: str
    parent: str = Field(description="The commit it was made on: its diff is parent..commit.")
    files: list[FileChangeOut] = Field(description="What this step's commit changed.")


class RunPublishedOut(Schema):
    run: int
    remote: str = Field(description="The project's remote the branch was pushed to.")
    branch: str
    commit: str = Field(description="The commit pushed: the branch's head.")
    pull_request_url: str = Field(description="The pull request, or '' when the project opens none.")


class RunMergedOut(Schema):
    run: int
    branch: str = Field(description="The run's branch that was merged.")
    base_branch: str = Field(description="The branch it was merged into: the one the run started from.")
    strategy: MergeStrategyName = Field(description="The project's merge_strategy.")
    commit: str = Field(description="The base branch's head after the merge.")
    previous: str = Field(description="The base branch's head before it.")
    nothing_to_merge: bool = Field(description="True when the base branch had every commit already.")


class RunChangesOut(Schema):
    run: int
    git: bool = Field(description="False when the workspace is not a git repository: no branch, no diff.")
    branch: str
    base: str = Field(description="The commit the run's branch started from.")
    base_branch: str = Field(
        "", description="The branch it started from, which an approved review merges into."
    )
    head: str = Field(description="The run branch's head now.")
    files: list[FileChangeOut] = Field(description="Base to head: the whole run (empty with ?step=).")
    steps: list[StepChangesOut]
