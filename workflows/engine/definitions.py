"""Workflow templates: parse YAML or JSON, validate, and name the step and field of every error.

Pure Python (no Django), so the API, the admin and the engine validate the same way.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from accounts.models import Role
from workflows.domain.shell_policy import env_problem, report_name_problem
from workflows.engine.durations import parse_duration
from workflows.engine.executors import EXECUTORS
from workflows.models.projects import MergeStrategy

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
STEP_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
# The step kinds are the executors' (workflows/engine/executors/__init__.py).
STEP_KINDS = tuple(EXECUTORS)
# The SmartSpec workflows an agent step can run (the routing table's targets).
AGENT_WORKFLOWS = (
    "generate_spec",
    "generate_plan",
    "generate_tasks",
    "fix_evidence_hooks",
    "add_evidence_hooks",
    "implement_tasks",
    "generate_tests",
    "docs_generator",
)
# Task groups that may run at once (domain/task_groups.py); on git, each branch works in a
# worktree of its own and the join merges them (engine/git_branches.py).
PARALLEL_TASKS = "parallel_tasks"
FOR_EACH_SOURCES = ("tasks", "pending_tasks", PARALLEL_TASKS)
# How an approved review gate merges the run's branch (workflows/engine/git_merge.py).
MERGE_STRATEGIES = tuple(MergeStrategy.values)
MAX_REWORK = 10  # rework rounds a review gate may allow
TEMPLATE_KEYS = {"name", "description", "max_parallel", "mode", "max_iterations", "steps", "kind"}
STEP_KEYS = {"id", "uses", "needs", "with", "timeout", "retries", "for_each", "join", "name"}
FORM_FIELD_TYPES = ("text", "number", "choice", "boolean")
# Nesting of lists and mappings, the template's own mapping being level 1. A template needs
# about 7 (template, steps, step, with, form, field, choices); 32 leaves room for params and
# items while keeping recursive code (json, the engine, the pages) far from its limits.
MAX_DEPTH = 32
# How many problems of one kind a single answer lists (a 256 KiB document could hold 50,000).
MAX_PROBLEMS = 20
# An approval's title is the ApprovalGate.title column (200) and the e-mail's subject line.
TITLE_MAX_LENGTH = 200
# Control characters end a header line (an e-mail subject) or a log line early.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# PostgreSQL's jsonb refuses \u0000 and unpaired surrogates; SQLite would store them.
_UNSTORABLE_TEXT_RE = re.compile(r"[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class Problem:
    message: str
    step: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = []
        if self.step is not None:
            where.append(f"step '{self.step}'")
        if self.field:
            where.append(self.field)
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def as_dict(self) -> dict[str, str | None]:
        return {"step": self.step, "field": self.field, "message": self.message}


class TemplateInvalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class StepDef:
    id: str
    uses: str
    needs: tuple[str, ...] = ()
    with_: dict[str, Any] = field(default_factory=dict)
    timeout: int | None = None
    retries: int = 0
    for_each: str | list[Any] | None = None
    join: str | int = "all"
    name: str = ""


@dataclass(frozen=True)
class TemplateDef:
    name: str
    steps: tuple[StepDef, ...]
    description: str = ""
    max_parallel: int = 4
    mode: str = "auto"
    kind: str = "dag"  # "dag", or "autopilot" for the status → next workflow loop
    max_iterations: int = 10

    def step(self, step_id: str) -> StepDef:
        return next(s for s in self.steps if s.id == step_id)


def parse_source(text: str, content_type: str = "") -> dict[str, Any]:
    """A template document from YAML or JSON text; TemplateInvalid if it is neither.

    YAML builds JSON's types only (see _TemplateLoader); both kinds are refused beyond
    MAX_DEPTH levels of nesting before the deep part is built.
    """
    kind = "JSON" if "json" in content_type else "YAML"
    try:
        data = _load_json(text) if kind == "JSON" else _load_yaml(text)
    except TemplateInvalid:
        raise
    except (ValueError, yaml.YAMLError) as exc:
        raise TemplateInvalid([Problem(f"not valid {kind}: {exc}")]) from None
    if not isinstance(data, dict):
        raise TemplateInvalid([Problem("a template must be a mapping with name and steps")])
    return data


def _too_deep(line: int | None = None) -> TemplateInvalid:
    where = f" (line {line})" if line else ""
    return TemplateInvalid([Problem(f"nested more than {MAX_DEPTH} levels deep{where}")])


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:  # json's C parser stops deep input quickly; the walk does the rest
        raise _too_deep() from None


def _load_yaml(text: str) -> Any:
    loader = _TemplateLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


class _TemplateLoader(yaml.SafeLoader):
    """YAML that builds what a JSON column holds, checked event by event as it is built.

    - aliases are refused: a few KiB of them expand to gigabytes once stored as JSON;
    - nesting beyond MAX_DEPTH is refused at the event that opens level MAX_DEPTH + 1, so a
      20,000-deep document costs a few dozen events, never a deep document (or a deep
      recursion) built first;
    - an unquoted date (`2024-01-01`) stays the text written: JSON has no date type, and a
      template only ever uses such a value as text. Other tags JSON cannot hold (!!binary,
      !!set, !!omap, an explicit !!timestamp) build their Python values, which validate()
      refuses naming the step and field; so are non-finite numbers (.inf, .nan).
    """

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def get_event(self) -> yaml.Event:
        event = super().get_event()
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            message = (
                f"YAML anchors and aliases are not accepted in templates: remove the *alias (line {line})"
            )
            raise TemplateInvalid([Problem(message)])
        if isinstance(event, yaml.CollectionStartEvent):
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise _too_deep(event.start_mark.line + 1 if event.start_mark else None)
        elif isinstance(event, yaml.CollectionEndEvent):
            self._depth -= 1
        return event


# --- values JSON can hold -------------------------------------------------------------------

JsonPath = tuple[str | int, ...]


def json_problems(value: Any, limit: int = MAX_PROBLEMS) -> list[tuple[JsonPath, str]]:
    """Where `value` holds what a JSON column cannot store faithfully, and why: text keys
    only, finite numbers, no NUL or unpaired surrogate, at most MAX_DEPTH levels.

    Iterative (breadth first), so a deep value costs no recursion; at most `limit` found.
    """
    found: list[tuple[JsonPath, str]] = []
    queue: list[tuple[Any, JsonPath, int]] = [(value, (), 1)]
    for item, path, depth in queue:
        if len(found) >= limit:
            break
        if isinstance(item, dict | list) and depth > MAX_DEPTH:
            found.append((path, f"nested more than {MAX_DEPTH} levels deep"))
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    found.append(((*path, str(key)), f"the key {key!r} must be text: quote it"))
                elif _UNSTORABLE_TEXT_RE.search(key):
                    found.append(((*path, key), "a key must not hold NUL or unpaired surrogates"))
                else:
                    queue.append((child, (*path, key), depth + 1))
        elif isinstance(item, list):
            queue.extend((child, (*path, index), depth + 1) for index, child in enumerate(item))
        elif (problem := _scalar_problem(item)) is not None:
            found.append((path, problem))
    return found


def _scalar_problem(value: Any) -> str | None:
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "must be a finite number (not .inf or .nan)"
    if isinstance(value, str):
        return "text must not hold NUL or unpaired surrogates" if _UNSTORABLE_TEXT_RE.search(value) else None
    if isinstance(value, bytes):
        return "binary data (!!binary) is not accepted: write text"
    if isinstance(value, set | frozenset):
        return "a set (!!set) is not accepted: write a list"
    if isinstance(value, datetime.date):
        return "a timestamp (!!timestamp) is not accepted: write the date as text"
    if isinstance(value, tuple):
        return "ordered pairs (!!omap, !!pairs) are not accepted: write a mapping"
    return f"a {type(value).__name__} is not accepted: use text, numbers, lists and mappings"


def dotted(path: JsonPath) -> str:
    """A path as a template author writes it: with.form[0].name."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _located(data: dict[str, Any], path: JsonPath, message: str) -> Problem:
    """The problem at `path`, naming the step (its id, or #n) and the field inside it."""
    steps = data.get("steps")
    if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int) and isinstance(steps, list):
        raw = steps[path[1]]
        step_id = raw.get("id") if isinstance(raw, dict) else None
        label = step_id if isinstance(step_id, str) and STEP_ID_RE.fullmatch(step_id) else f"#{path[1] + 1}"
        return Problem(message, label, dotted(path[2:]) or None)
    return Problem(message, None, dotted(path) or None)


def validate(data: dict[str, Any]) -> TemplateDef:
    """The template as a TemplateDef, or TemplateInvalid listing every problem found."""
    # What JSON cannot hold is refused first: the checks below compare and sort keys.
    unstorable = [_located(data, path, message) for path, message in json_problems(data)]
    if unstorable:
        raise TemplateInvalid(unstorable)
    problems: list[Problem] = []
    for key in sorted(set(data) - TEMPLATE_KEYS):
        problems.append(Problem(f"unknown field (allowed: {', '.join(sorted(TEMPLATE_KEYS))})", field=key))
    name = data.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        problems.append(
            Problem("must be lowercase letters, digits, '-' or '_' (1-80 characters)", field="name")
        )
    kind = data.get("kind", "dag")
    if kind not in ("dag", "autopilot"):
        problems.append(Problem("must be 'dag' or 'autopilot'", field="kind"))
    max_parallel = _int_in(data.get("max_parallel", 4), 1, 64, "max_parallel", None, problems)
    max_iterations = _int_in(data.get("max_iterations", 10), 1, 100, "max_iterations", None, problems)
    mode = data.get("mode", "auto")
    if mode not in ("auto", "supervised"):
        problems.append(Problem("must be 'auto' or 'supervised'", field="mode"))
    description = data.get("description", "")
    if not isinstance(description, str):
        problems.append(Problem("must be text", field="description"))
    raw_steps = data.get("steps", [])
    steps: list[StepDef] = []
    if not isinstance(raw_steps, list):
        problems.append(Problem("must be a list of steps", field="steps"))
    elif not raw_steps and kind != "autopilot":
        problems.append(Problem("a workflow needs at least one step", field="steps"))
    else:
        steps = _validate_steps(raw_steps, problems)
    if problems:
        raise TemplateInvalid(problems)
    return TemplateDef(
        name=str(name),
        steps=tuple(steps),
        description=str(description),
        max_parallel=max_parallel or 4,
        mode=str(mode),
        kind=str(kind),
        max_iterations=max_iterations or 10,
    )


def _int_in(
    value: Any, low: int, high: int, name: str, step: str | None, problems: list[Problem]
) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(Problem(f"must be a whole number from {low} to {high}", step, name))
        return None
    return value


def _validate_steps(raw_steps: list[Any], problems: list[Problem]) -> list[StepDef]:
    steps: list[StepDef] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_steps):
        label = f"#{index + 1}"
        if not isinstance(raw, dict):
            problems.append(Problem("a step must be a mapping with id and uses", label))
            continue
        step_id = raw.get("id")
        if isinstance(step_id, str) and STEP_ID_RE.fullmatch(step_id):
            label = step_id
            if step_id in seen:
                problems.append(Problem("duplicate step id", step_id, "id"))
            seen.add(step_id)
        else:
            problems.append(
                Problem("must start with a letter and hold letters, digits, '-', '_'", label, "id")
            )
        step = _validate_step(raw, label, problems)
        if step is not None:
            steps.append(step)
    ids = {s.id for s in steps}
    for step in steps:
        for need in step.needs:
            if need == step.id:
                problems.append(Problem("a step cannot need itself", step.id, "needs"))
            elif need not in ids and need in seen:
                continue  # the needed step has problems of its own, reported above
            elif need not in ids:
                problems.append(Problem(f"unknown step '{need}'", step.id, "needs"))
    _check_reviews(steps, problems)
    cycle = _find_cycle(steps)
    if cycle:
        problems.append(
            Problem(f"steps depend on each other in a cycle: {' → '.join(cycle)}", cycle[0], "needs")
        )
    return steps


def _validate_step(raw: dict[str, Any], label: str, problems: list[Problem]) -> StepDef | None:
    before = len(problems)
    for key in sorted(set(raw) - STEP_KEYS):
        problems.append(Problem(f"unknown field (allowed: {', '.join(sorted(STEP_KEYS))})", label, key))
    uses = raw.get("uses")
    if uses not in STEP_KINDS:
        problems.append(
            Problem(f"unknown step kind {uses!r} (one of: {', '.join(STEP_KINDS)})", label, "uses")
        )
    needs = raw.get("needs", [])
    if isinstance(needs, str):
        needs = [needs]
    if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
        problems.append(Problem("must be a list of step ids", label, "needs"))
        needs = []
    with_ = raw.get("with", {}) or {}
    if not isinstance(with_, dict):
        problems.append(Problem("must be a mapping", label, "with"))
        with_ = {}
    elif uses in STEP_KINDS:
        _validate_with(str(uses), with_, label, problems)
    timeout = None
    if "timeout" in raw:
        try:
            timeout = parse_duration(raw["timeout"])
        except ValueError as exc:
            problems.append(Problem(str(exc), label, "timeout"))
    retries = _int_in(raw.get("retries", 0), 0, 10, "retries", label, problems)
    for_each = raw.get("for_each")
    join = raw.get("join", "all")
    if for_each is not None:
        _validate_fan_out(for_each, join, uses, label, problems)
        if for_each == PARALLEL_TASKS and (uses != "agent" or with_.get("workflow") != "implement_tasks"):
            problems.append(
                Problem(
                    "parallel_tasks fans out only an agent step with workflow: implement_tasks",
                    label,
                    "for_each",
                )
            )
    elif "join" in raw:
        problems.append(Problem("join only applies to a step with for_each", label, "join"))
    if len(problems) > before:
        return None
    return StepDef(
        id=str(raw["id"]),
        uses=str(uses),
        needs=tuple(dict.fromkeys(needs)),
        with_=dict(with_),
        timeout=timeout,
        retries=retries or 0,
        for_each=for_each,
        join=join,
        name=str(raw.get("name", "")),
    )


def _validate_fan_out(for_each: Any, join: Any, uses: Any, label: str, problems: list[Problem]) -> None:
    if uses == "approval":
        problems.append(Problem("an approval step cannot fan out", label, "for_each"))
    if isinstance(for_each, list):
        if not for_each:
            problems.append(Problem("the list of items is empty", label, "for_each"))
        count = len(for_each)
    elif isinstance(for_each, str) and (
        for_each in FOR_EACH_SOURCES or re.fullmatch(r"params\.[A-Za-z_][A-Za-z0-9_]*", for_each)
    ):
        count = None
    else:
        problems.append(
            Problem(
                "must be a list of items, 'tasks', 'pending_tasks', 'parallel_tasks' or 'params.<name>'",
                label,
                "for_each",
            )
        )
        return
    if join in ("all", "any"):
        return
    if isinstance(join, bool) or not isinstance(join, int) or join < 1:
        problems.append(Problem("must be 'all', 'any' or a number k (k of n must succeed)", label, "join"))
    elif count is not None and join > count:
        problems.append(Problem(f"k={join} is more than the {count} items", label, "join"))


def _find_cycle(steps: list[StepDef]) -> list[str]:
    graph = {s.id: [n for n in s.needs if n != s.id] for s in steps}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt in graph and nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


# --- `with:` of each step kind ------------------------------------------------------------


def _validate_with(uses: str, with_: dict[str, Any], label: str, problems: list[Problem]) -> None:
    checker = _WITH_CHECKERS.get(uses)
    allowed = _WITH_KEYS[uses]
    for key in sorted(set(with_) - allowed):
        hint = f" (allowed: {', '.join(sorted(allowed))})" if allowed else " (this kind takes none)"
        problems.append(Problem(f"unknown field{hint}", label, f"with.{key}"))
    if checker is not None:
        checker(with_, label, problems)


def _check_shell(with_: dict[str, Any], label: str, problems: list[Problem]) -> None:
    command = with_.get("command")
    if not isinstance(command, str) or not command.strip():
        problems.append(Problem("a shell step needs a command", label, "with.command"))
    _check_env(with_.get("env", {}), label, problems)
    cwd = with_.get("cwd", "")
    if not isinstance(cwd, str) or cwd.startswith("/") or ".." in cwd.split("/"):
        problems.append(Problem("must be a relative path inside the workspace", label, "with.cwd"))
    report = with_.get("report")
    if report is not None and (problem := report_name_problem(report)):
        problems.append(Problem(problem, label, "with.report"))


def _check_env(env: Any, label: str, problems: list[Problem]) -> None:
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in env.items()
    ):
        problems.append(Problem("must map names to text values", label, "with.env"))
        return
    if problem := env_problem(env):
        problems.append(Problem(problem, label, "with.env"))


def _check_agent(with_: dict[str, Any], label: str, problems: list[Problem]) -> None:
    workflow = with_.get("workflow")
    if workflow not in AGENT_WORKFLOWS:
        problems.append(Problem(f"must be one of: {', '.join(AGENT_WORKFLOWS)}", label, "with.workflow"))
    if "prompt" in with_ and not isinstance(with_["prompt"], str):
        problems.append(Problem("must be text", label, "with.prompt"))


def _check_quality_gate(with_: dict[str, Any], label: str, problems: list[Problem]) -> None:
    for key in ("min_completion_rate", "min_verified_ratio"):
        if key in with_ and not _number_in(with_[key], 0, 1):
            problems.append(Problem("must be a number from 0 to 1", label, f"with.{key}"))
    if with_.get("min_coverage") is not None and not _number_in(with_["min_coverage"], 0, 100):
        problems.append(Problem("must be a number from 0 to 100, or null", label, "with.min_coverage"))
    if "max_invalid_evidence" in with_:
        _int_in(with_["max_invalid_evidence"], 0, 100_000, "with.max_invalid_evidence", label, problems)
    if "require_tests_passed" in with_ and not isinstance(with_["require_tests_passed"], bool):
        problems.append(Problem("must be true or false", label, "with.require_tests_passed"))
    for key in ("coverage_file", "junit_file"):
        value = with_.get(key)
        if value is not None and (
            not isinstance(value, str) or value.startswith("/") or ".." in value.split("/")
        ):
            problems.append(Problem("must be a relative path inside the workspace", label, f"with.{key}"))


def _check_noop(with_: dict[str, Any], label: str, problems: list[Problem]) -> None:
    if "sleep" in with_ and not _number_in(with_["sleep"], 0, 3600):
        problems.append(Problem("must be a number of seconds from 0 to 3600", label, "with.sleep"))
    if "fail" in with_ and not isinstance(with_["fail"], bool):
        problems.append(Problem("must be true or false", label, "with.fail"))


def _check_approval(with_: dict[str, Any], label: str, problems: list[Problem]) -> None:
    _check_people(with_.get("approvers"), label, "with.approvers", problems)
    if "escalate_to" in with_:
        _check_people(with_["escalate_to"], label, "with.escalate_to", problems)
    if "quorum" in with_:
        _int_in(with_["quorum"], 1, 100, "with.quorum", label, problems)
    for key in ("timeout", "escalate_timeout"):
        # The gate reads escalate_timeout only when it is set (null: the timeout again).
        if key in with_ and not (key == "escalate_timeout" and with_[key] is None):
            _check_duration(with_[key], label, f"with.{key}", problems)
    on_timeout = with_.get("on_timeout", "reject")
    if on_timeout not in ("reject", "approve", "escalate"):
        problems.append(Problem("must be reject, approve or escalate", label, "with.on_timeout"))
    if on_timeout == "escalate" and not with_.get("escalate_to"):
        problems.append(Problem("escalate needs escalate_to", label, "with.escalate_to"))
    if "on_timeout" in with_ and "timeout" not in with_:
        problems.append(Problem("on_timeout needs a timeout", label, "with.on_timeout"))
    for key in ("allow_self_approval", "reject_ends"):
        if key in with_ and not isinstance(with_[key], bool):
            problems.append(Problem("must be true or false", label, f"with.{key}"))
    if "title" in with_:
        _check_title(with_["title"], label, problems)
    _check_reminders(with_.get("reminders", []), label, problems)
    _check_form(with_.get("form", []), label, problems)
    _check_review(with_, label, problems)


def _check_review(with_: dict[str, Any], label: str, problems: list[Problem]) -> None:
    """A review gate's own fields; which step it reviews is checked with the other steps
    (_check_reviews)."""
    review = with_.get("review")
    if "review" in with_ and (not isinstance(review, str) or not STEP_ID_RE.fullmatch(review)):
        problems.append(Problem("must name the agent step this gate reviews", label, "with.review"))
    for key in ("merge", "rework_limit"):
        if key in with_ and "review" not in with_:
            problems.append(
                Problem("only a review gate takes it: add review: <agent step>", label, f"with.{key}")
            )
    if "merge" in with_ and with_["merge"] not in MERGE_STRATEGIES:
        problems.append(Problem(f"must be {' or '.join(MERGE_STRATEGIES)}", label, "with.merge"))
    if "rework_limit" in with_:
        _int_in(with_["rework_limit"], 0, MAX_REWORK, "with.rework_limit", label, problems)


def _check_reviews(steps: list[StepDef], problems: list[Problem]) -> None:
    """A review gate reviews an agent step it needs."""
    by_id = {s.id: s for s in steps}
    for step in steps:
        target = step.with_.get("review") if step.uses == "approval" else None
        if not isinstance(target, str):
            continue
        reviewed = by_id.get(target)
        if reviewed is None:
            problems.append(Problem(f"unknown step '{target}'", step.id, "with.review"))
        elif reviewed.uses != "agent":
            problems.append(
                Problem(
                    f"'{target}' is a {reviewed.uses} step; a review gate reviews an agent step",
                    step.id,
                    "with.review",
                )
            )
        elif target not in step.needs:
            problems.append(
                Problem(
                    f"the gate must need the step it reviews: add '{target}' to its needs",
                    step.id,
                    "with.review",
                )
            )


def _check_people(value: Any, label: str, where: str, problems: list[Problem]) -> None:
    if not isinstance(value, list) or not value or not all(isinstance(a, str) and a.strip() for a in value):
        problems.append(Problem("must list usernames and/or role:<role>", label, where))
        return
    for approver in value:
        if approver.startswith("role:") and approver[5:] not in Role.values:
            problems.append(Problem(f"unknown role in {approver!r}", label, where))


def _check_duration(value: Any, label: str, where: str, problems: list[Problem]) -> None:
    try:
        parse_duration(value)
    except ValueError as exc:
        problems.append(Problem(str(exc), label, where))


def _check_title(title: Any, label: str, problems: list[Problem]) -> None:
    # The title is a database column of 200 characters and an e-mail's subject header, where
    # a line break would start headers of the sender's choosing.
    if not isinstance(title, str):
        problems.append(Problem("must be text", label, "with.title"))
    elif len(title) > TITLE_MAX_LENGTH:
        problems.append(Problem(f"at most {TITLE_MAX_LENGTH} characters", label, "with.title"))
    elif _CONTROL_RE.search(title):
        problems.append(Problem("must be one line, without control characters", label, "with.title"))


MAX_REMINDERS = 10


def _check_reminders(reminders: Any, label: str, problems: list[Problem]) -> None:
    if not isinstance(reminders, list):
        problems.append(Problem("must be a list of durations before the deadline", label, "with.reminders"))
        return
    if len(reminders) > MAX_REMINDERS:
        problems.append(Problem(f"at most {MAX_REMINDERS} reminders", label, "with.reminders"))
        return
    for index, reminder in enumerate(reminders):
        try:
            parse_duration(reminder)
        except ValueError as exc:
            problems.append(Problem(f"item {index + 1}: {exc}", label, "with.reminders"))


def _check_form(form: Any, label: str, problems: list[Problem]) -> None:
    if not isinstance(form, list):
        problems.append(Problem("must be a list of fields", label, "with.form"))
        return
    names: set[str] = set()
    for index, item in enumerate(form):
        where = f"with.form[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            problems.append(Problem("a form field needs a name", label, where))
            continue
        if item["name"] in names:
            problems.append(Problem(f"duplicate field name {item['name']!r}", label, where))
        names.add(item["name"])
        if item.get("type", "text") not in FORM_FIELD_TYPES:
            problems.append(Problem(f"type must be one of {', '.join(FORM_FIELD_TYPES)}", label, where))
        if item.get("type") == "choice" and not (isinstance(item.get("choices"), list) and item["choices"]):
            problems.append(Problem("a choice field needs choices", label, where))
        for bound in ("min", "max"):
            if bound in item and not _number_in(item[bound], -1e12, 1e12):
                problems.append(Problem(f"{bound} must be a number", label, where))


def _number_in(value: Any, low: float, high: float) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and low <= value <= high


_WITH_CHECKERS = {
    "shell": _check_shell,
    "agent": _check_agent,
    "quality_gate": _check_quality_gate,
    "noop": _check_noop,
    "approval": _check_approval,
}
_WITH_KEYS: dict[str, set[str]] = {
    "verify_tasks": set(),
    "sync_tasks": set(),
    "status": set(),
    "shell": {"command", "env", "cwd", "report"},
    "agent": {"workflow", "prompt"},
    "quality_gate": {
        "min_completion_rate",
        "min_verified_ratio",
        "require_tests_passed",
        "min_coverage",
        "max_invalid_evidence",
        "coverage_file",
        "junit_file",
    },
    "noop": {"sleep", "fail", "message"},
    "approval": {
        "approvers",
        "quorum",
        "timeout",
        "on_timeout",
        "escalate_to",
        "escalate_timeout",
        "allow_self_approval",
        "reject_ends",
        "reminders",
        "form",
        "title",
        "review",
        "merge",
        "rework_limit",
    },
}
