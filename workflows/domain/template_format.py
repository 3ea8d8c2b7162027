"""The workflow template format, described once: pydantic models the API, the pages, the
admin and the engine validate with, and the API's OpenAPI schema is derived from.

A template is a mapping (name, description, max_parallel, mode, max_iterations, kind, steps);
a step is one model per `uses` kind (a union discriminated on `uses`), each with its own
`with` model. Every model refuses keys it does not know. What one field must hold is said on
the field; rules between fields of one step are the step's `rule_problems()`. Validating a
document, rules between steps and the problems in the author's words are
domain/template_validation.py's.

Pure Python (no Django): the facts it shares with the models (role names, merge
strategies, the executors' kinds) are checked to agree by tests/test_defined_once.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    JsonValue,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from workflows.domain.durations import MAX_DURATION, parse_duration
from workflows.domain.quality_gate import DEFAULT_THRESHOLDS
from workflows.domain.shell_policy import env_problem, report_name_problem

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,79}$"
NAME_RE = re.compile(NAME_PATTERN)
STEP_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
STEP_ID_RE = re.compile(STEP_ID_PATTERN)
# The SmartSpec workflows an agent step can run (the routing table's targets).
AgentWorkflow = Literal[
    "generate_spec",
    "generate_plan",
    "generate_tasks",
    "fix_evidence_hooks",
    "add_evidence_hooks",
    "implement_tasks",
    "generate_tests",
    "docs_generator",
]
AGENT_WORKFLOWS: tuple[str, ...] = get_args(AgentWorkflow)
# Task groups that may run at once (domain/task_groups.py); on git, each branch works in a
# worktree of its own and the join merges them (engine/git_branches.py).
PARALLEL_TASKS = "parallel_tasks"
FOR_EACH_SOURCES = ("tasks", "pending_tasks", PARALLEL_TASKS)
# accounts.models.Role's values and MergeStrategy's (workflows/models/projects.py): the
# domain imports no models, so tests/test_defined_once.py checks they agree.
RoleName = Literal["viewer", "member", "approver", "admin"]
ROLE_NAMES: tuple[str, ...] = get_args(RoleName)
MergeStrategyName = Literal["merge_commit", "fast_forward"]
MERGE_STRATEGIES: tuple[str, ...] = get_args(MergeStrategyName)
FormFieldType = Literal["text", "number", "choice", "boolean"]
FORM_FIELD_TYPES: tuple[str, ...] = get_args(FormFieldType)
MAX_REWORK = 10  # rework rounds a review gate may allow
REWORK_LIMIT = 2  # rework rounds a review gate allows when its template names none
MAX_REMINDERS = 10
# An approval's title is the ApprovalGate.title column (200) and the e-mail's subject line.
TITLE_MAX_LENGTH = 200
# Control characters end a header line (an e-mail subject) or a log line early.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


# --- what a field says when its value is wrong -------------------------------------------------


@dataclass(frozen=True)
class Says:
    """A field's one message for any wrong value (and for a missing one): `Annotated[int,
    Field(ge=1, le=64), Says("must be a whole number from 1 to 64")]`. The constraints
    before it still make the JSON schema; what they would say is replaced."""

    message: str

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_wrap_validator_function(self._check, handler(source))

    def _check(self, value: Any, inner: Callable[[Any], Any]) -> Any:
        try:
            return inner(value)
        except ValidationError:
            raise PydanticCustomError("says", self.message) from None


def _number_in(low: float, high: float) -> Callable[[float], float]:
    def check(value: float) -> float:
        if not low <= value <= high:
            raise ValueError(f"must be from {low} to {high}")
        return value

    return check


def _number_schema(low: float, high: float) -> WithJsonSchema:
    return WithJsonSchema({"type": "number", "minimum": low, "maximum": high})


def _relative_path(value: str) -> str:
    if value.startswith("/") or ".." in value.split("/"):
        raise ValueError("must be a relative path inside the workspace")
    return value


def _duration_or_none(value: object) -> int | None:
    return None if value is None else parse_duration(value)


def _one_line(value: str) -> str:
    # The title is a database column and an e-mail's subject header, where a line break
    # would start headers of the sender's choosing.
    if _CONTROL_RE.search(value):
        raise ValueError("must be one line, without control characters")
    return value


def _known_roles(people: tuple[str, ...]) -> tuple[str, ...]:
    for person in people:
        if person.startswith("role:") and person[5:] not in ROLE_NAMES:
            raise ValueError(f"unknown role in {person!r}")
    return people


def _report_name(value: str) -> str:
    if problem := report_name_problem(value):
        raise ValueError(problem)
    return value


def _env_allowed(env: dict[str, Any]) -> dict[str, Any]:
    if problem := env_problem(env):
        raise ValueError(problem)
    return env


def _one_or_more(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _first_of_each(needs: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(needs))


def _unique_names(form: tuple[FormField, ...]) -> tuple[FormField, ...]:
    names = [f.name for f in form]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"duplicate field name {name!r}")
    return form


_DURATION_SCHEMA: dict[str, JsonValue] = {
    "anyOf": [
        {"type": "number", "minimum": 1, "maximum": MAX_DURATION, "description": "seconds"},
        {"type": "string", "pattern": r"^\s*[0-9]{1,12}\s*$|^(\s*[0-9]{1,12}\s*[smhdSMHD])+\s*$"},
    ],
    "description": f"90, '90s', '30m', '24h', '2d' or '1h30m'; from 1 second to {MAX_DURATION // 86400}d",
}
# A duration as written (90, "90s", "30m", "24h", "2d", "1h30m"), held as whole seconds.
Duration = Annotated[int, PlainValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]
OptionalDuration = Annotated[
    int | None,
    PlainValidator(_duration_or_none),
    WithJsonSchema({"anyOf": [_DURATION_SCHEMA, {"type": "null"}]}),
]
StepId = Annotated[
    StrictStr,
    Field(pattern=STEP_ID_PATTERN),
    Says("must start with a letter and hold letters, digits, '-', '_'"),
]
RelativePath = Annotated[StrictStr, AfterValidator(_relative_path)]
People = Annotated[
    tuple[Annotated[StrictStr, Field(pattern=r"\S")], ...],
    Field(min_length=1),
    Says("must list usernames and/or role:<role>"),
    AfterValidator(_known_roles),
]
Fraction = Annotated[
    StrictInt | StrictFloat,
    AfterValidator(_number_in(0, 1)),
    Says("must be a number from 0 to 1"),
    _number_schema(0, 1),
]
Bound = Annotated[
    StrictInt | StrictFloat,
    AfterValidator(_number_in(-1e12, 1e12)),
    Says("must be a number"),
    _number_schema(-1e12, 1e12),
]


class Format(BaseModel):
    """A part of the template format: unknown keys are refused, and it does not change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def rule_problems(self) -> Iterator[tuple[str, str]]:
        """(field, message) for rules between this part's fields, once each field is valid."""
        return iter(())


# --- `with:` of each step kind ------------------------------------------------------------------


class NoOptions(Format):
    """verify_tasks, sync_tasks and status take no `with`."""


class ShellWith(Format):
    """A command from the project's allowlist, run in the workspace."""

    command: Annotated[StrictStr, Field(pattern=r"\S"), Says("a shell step needs a command")]
    env: Annotated[
        dict[str, StrictStr | StrictInt | StrictFloat | StrictBool],
        Says("must map names to text values"),
        AfterValidator(_env_allowed),
    ] = Field(default_factory=dict)
    cwd: RelativePath = ""
    report: Annotated[StrictStr, AfterValidator(_report_name)] | None = None


class AgentWith(Format):
    """One SmartSpec workflow run by the project's agent."""

    workflow: Annotated[AgentWorkflow, Says(f"must be one of: {', '.join(AGENT_WORKFLOWS)}")]
    prompt: StrictStr = ""


class QualityGateWith(Format):
    """Thresholds the spec's verification must meet; one not written is the project's, or
    else the default shown."""

    min_completion_rate: Fraction = DEFAULT_THRESHOLDS["min_completion_rate"]
    min_verified_ratio: Fraction = DEFAULT_THRESHOLDS["min_verified_ratio"]
    require_tests_passed: StrictBool = DEFAULT_THRESHOLDS["require_tests_passed"]
    min_coverage: (
        Annotated[
            StrictInt | StrictFloat,
            AfterValidator(_number_in(0, 100)),
            Says("must be a number from 0 to 100, or null"),
            _number_schema(0, 100),
        ]
        | None
    ) = DEFAULT_THRESHOLDS["min_coverage"]
    max_invalid_evidence: Annotated[
        int, Field(strict=True, ge=0, le=100_000), Says("must be a whole number from 0 to 100000")
    ] = DEFAULT_THRESHOLDS["max_invalid_evidence"]
    coverage_file: RelativePath | None = None
    junit_file: RelativePath | None = None


class NoopWith(Format):
    """Does nothing (for trying the engine): waits, and succeeds or fails as told."""

    sleep: Annotated[
        StrictInt | StrictFloat,
        AfterValidator(_number_in(0, 3600)),
        Says("must be a number of seconds from 0 to 3600"),
        _number_schema(0, 3600),
    ] = 0
    fail: StrictBool = False
    message: JsonValue = None


class FormField(Format):
    """A field of an approval's form (domain/approval_forms.py cleans what people send):
    for text, min and max bound the length; for numbers, the value."""

    name: Annotated[StrictStr, Field(min_length=1), Says("a form field needs a name")]
    label: StrictStr = ""
    type: Annotated[FormFieldType, Says(f"must be one of: {', '.join(FORM_FIELD_TYPES)}")] = "text"
    required: StrictBool = False
    min: Bound | None = None
    max: Bound | None = None
    choices: Annotated[
        tuple[StrictStr | StrictInt | StrictFloat, ...], Says("must be a list of text or numbers")
    ] = ()

    def rule_problems(self) -> Iterator[tuple[str, str]]:
        if self.type == "choice" and not self.choices:
            yield "choices", "a choice field needs choices"


class ApprovalWith(Format):
    """Who approves, how many, until when, and what happens then; with `review:`, a review
    of an agent step's work (merged when approved, sent back to rework when rejected)."""

    approvers: People
    quorum: Annotated[int, Field(strict=True, ge=1, le=100), Says("must be a whole number from 1 to 100")] = 1
    timeout: OptionalDuration = None
    on_timeout: Annotated[
        Literal["reject", "approve", "escalate"], Says("must be reject, approve or escalate")
    ] = "reject"
    escalate_to: People = ()
    # null: the timeout again.
    escalate_timeout: OptionalDuration = None
    allow_self_approval: StrictBool = False
    reject_ends: StrictBool = True
    reminders: Annotated[tuple[Duration, ...], Field(max_length=MAX_REMINDERS)] = ()
    form: Annotated[tuple[FormField, ...], AfterValidator(_unique_names)] = ()
    title: Annotated[StrictStr, Field(max_length=TITLE_MAX_LENGTH), AfterValidator(_one_line)] = ""
    review: Annotated[
        StrictStr, Field(pattern=STEP_ID_PATTERN), Says("must name the agent step this gate reviews")
    ] = ""
    # None: the project's merge strategy.
    merge: Annotated[MergeStrategyName, Says(f"must be {' or '.join(MERGE_STRATEGIES)}")] | None = None
    rework_limit: Annotated[
        int, Field(strict=True, ge=0, le=MAX_REWORK), Says(f"must be a whole number from 0 to {MAX_REWORK}")
    ] = REWORK_LIMIT

    def rule_problems(self) -> Iterator[tuple[str, str]]:
        written = self.model_fields_set
        if "on_timeout" in written and "timeout" not in written:
            yield "on_timeout", "on_timeout needs a timeout"
        if self.on_timeout == "escalate" and not self.escalate_to:
            yield "escalate_to", "escalate needs escalate_to"
        for key in ("merge", "rework_limit"):
            if key in written and "review" not in written:
                yield key, "only a review gate takes it: add review: <agent step>"
        for index, field in enumerate(self.form):
            for name, message in field.rule_problems():
                yield f"form[{index}].{name}", message


# --- steps ----------------------------------------------------------------------------------------

ForEach = Annotated[
    list[JsonValue] | StrictStr,
    Says("must be a list of items, 'tasks', 'pending_tasks', 'parallel_tasks' or 'params.<name>'"),
]
_PARAM_SOURCE_RE = re.compile(r"params\.[A-Za-z_][A-Za-z0-9_]*")


class StepBase(Format):
    """What every step has; `uses` and `with` are each kind's."""

    id: StepId
    name: StrictStr = ""
    needs: Annotated[
        tuple[StrictStr, ...],
        BeforeValidator(_one_or_more),
        Says("must be a list of step ids"),
        AfterValidator(_first_of_each),
        WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
    ] = ()
    timeout: OptionalDuration = None
    retries: Annotated[int, Field(strict=True, ge=0, le=10), Says("must be a whole number from 0 to 10")] = 0
    for_each: ForEach | None = None
    join: Annotated[
        Literal["all", "any"] | Annotated[StrictInt, Field(ge=1)],
        Says("must be 'all', 'any' or a number k (k of n must succeed)"),
    ] = "all"
    uses: str
    with_: Format = Field(default_factory=NoOptions, alias="with")

    @field_validator("with_", mode="before", check_fields=False)
    @classmethod
    def _empty_with(cls, value: Any) -> Any:
        return {} if value is None else value  # `with:` written with nothing after it

    @property
    def config(self) -> dict[str, Any]:
        """The step's `with` as the engine reads it (Step.config): the keys written."""
        return self.with_.model_dump(mode="json", exclude_unset=True)

    def rule_problems(self) -> Iterator[tuple[str, str]]:
        yield from self._fan_out_problems()
        for name, message in self.with_.rule_problems():
            yield f"with.{name}", message

    def _fan_out_problems(self) -> Iterator[tuple[str, str]]:
        items = self.for_each
        if items is None:
            if "join" in self.model_fields_set:
                yield "join", "join only applies to a step with for_each"
            return
        if isinstance(items, str) and items not in FOR_EACH_SOURCES and not _PARAM_SOURCE_RE.fullmatch(items):
            yield (
                "for_each",
                "must be a list of items, 'tasks', 'pending_tasks', 'parallel_tasks' or 'params.<name>'",
            )
        if isinstance(items, list) and not items:
            yield "for_each", "the list of items is empty"
        if isinstance(items, list) and isinstance(self.join, int) and self.join > len(items):
            yield "join", f"k={self.join} is more than the {len(items)} items"
        if items == PARALLEL_TASKS and not (
            isinstance(self.with_, AgentWith) and self.with_.workflow == "implement_tasks"
        ):
            yield "for_each", "parallel_tasks fans out only an agent step with workflow: implement_tasks"


class VerifyTasksStep(StepBase):
    """Checks each task's evidence against the workspace."""

    uses: Literal["verify_tasks"]
    with_: NoOptions = Field(default_factory=NoOptions, alias="with")


class SyncTasksStep(StepBase):
    """Ticks tasks.md's checkboxes to match the verification."""

    uses: Literal["sync_tasks"]
    with_: NoOptions = Field(default_factory=NoOptions, alias="with")


class QualityGateStep(StepBase):
    uses: Literal["quality_gate"]
    with_: QualityGateWith = Field(default_factory=QualityGateWith, alias="with")


class StatusStep(StepBase):
    """Computes the spec's status and the next workflow."""

    uses: Literal["status"]
    with_: NoOptions = Field(default_factory=NoOptions, alias="with")


class ShellStep(StepBase):
    uses: Literal["shell"]
    with_: ShellWith = Field(alias="with")


class AgentStep(StepBase):
    uses: Literal["agent"]
    with_: AgentWith = Field(alias="with")


class ApprovalStep(StepBase):
    uses: Literal["approval"]
    with_: ApprovalWith = Field(alias="with")

    def rule_problems(self) -> Iterator[tuple[str, str]]:
        if self.for_each is not None:
            yield "for_each", "an approval step cannot fan out"
        yield from super().rule_problems()


class NoopStep(StepBase):
    uses: Literal["noop"]
    with_: NoopWith = Field(default_factory=NoopWith, alias="with")


# In the executors' order (workflows/engine/executors/__init__.py, checked by
# tests/test_defined_once.py).
StepDef = Annotated[
    VerifyTasksStep
    | SyncTasksStep
    | QualityGateStep
    | StatusStep
    | ShellStep
    | AgentStep
    | ApprovalStep
    | NoopStep,
    Field(discriminator="uses"),
]
STEP_MODELS: dict[str, type[StepBase]] = {
    get_args(model.model_fields["uses"].annotation)[0]: model for model in get_args(get_args(StepDef)[0])
}
STEP_KINDS = tuple(STEP_MODELS)


class TemplateDef(Format):
    """A workflow template: its steps run as a graph of `needs` (kind dag), or, for kind
    autopilot, status → the recommended workflow, turn after turn."""

    name: Annotated[
        StrictStr,
        Field(pattern=NAME_PATTERN),
        Says("must be lowercase letters, digits, '-' or '_' (1-80 characters)"),
    ]
    description: StrictStr = ""
    max_parallel: Annotated[
        int, Field(strict=True, ge=1, le=64), Says("must be a whole number from 1 to 64")
    ] = 4
    mode: Annotated[Literal["auto", "supervised"], Says("must be 'auto' or 'supervised'")] = "auto"
    max_iterations: Annotated[
        int, Field(strict=True, ge=1, le=100), Says("must be a whole number from 1 to 100")
    ] = 10
    kind: Annotated[Literal["dag", "autopilot"], Says("must be 'dag' or 'autopilot'")] = "dag"
    steps: tuple[StepDef, ...] = ()

    def step(self, step_id: str) -> StepDef:
        return next(s for s in self.steps if s.id == step_id)


def template_json_schema(ref_template: str) -> dict[str, Any]:
    """The format as JSON Schema, its parts referenced through `ref_template`."""
    return TemplateDef.model_json_schema(by_alias=True, ref_template=ref_template, mode="validation")
