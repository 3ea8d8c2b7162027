"""Validating a template against its format (domain/template_format.py), in its author's words.

Field by field, pydantic validates; its errors are translated into Problems naming the step
(its id, or #n) and the field (`with.form[0].name`). Then one pass over the steps that are
valid checks the rules between a step's fields and between steps: unknown or circular
needs, duplicate ids, what a review gate reviews. Pure Python (no Django).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from workflows.domain.json_values import JsonPath, dotted, json_problems
from workflows.domain.template_format import (
    STEP_ID_RE,
    STEP_KINDS,
    STEP_MODELS,
    ApprovalStep,
    Says,
    StepDef,
    TemplateDef,
)

# How many problems of one kind (unstorable values, fields, rules between fields and steps)
# a single answer lists: a 256 KiB document could hold 50,000.
MAX_PROBLEMS = 20

_STEP_ADAPTER: TypeAdapter[StepDef] = TypeAdapter(StepDef)  # one step, validated on its own

# --- problems ---------------------------------------------------------------------------------


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


# --- validating ----------------------------------------------------------------------------------


def validate(data: dict[str, Any]) -> TemplateDef:
    """The template as a TemplateDef, or TemplateInvalid listing every problem found."""
    # What JSON cannot hold is refused first: the format compares and sorts keys.
    unstorable = [_located(data, path, message) for path, message in json_problems(data, MAX_PROBLEMS)]
    if unstorable:
        raise TemplateInvalid(unstorable)
    written = data.get("steps", [])
    raw_steps = written if isinstance(written, list) else []
    no_steps = written == []
    try:
        template = TemplateDef.model_validate(data)
    except ValidationError as exc:
        # Rules between steps still run on the steps that are valid on their own.
        problems = _capped([_problem(error, data) for error in exc.errors(include_url=False)])
        problems += _capped(
            _rule_problems(data.get("kind", "dag"), _valid_steps(raw_steps), raw_steps, no_steps)
        )
        raise TemplateInvalid(problems) from None
    problems = _capped(_rule_problems(template.kind, list(template.steps), raw_steps, no_steps))
    if problems:
        raise TemplateInvalid(problems)
    return template


def _capped(problems: list[Problem]) -> list[Problem]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], Problem(f"and {len(problems) - MAX_PROBLEMS} more like these")]


def _valid_steps(raw_steps: list[Any]) -> list[StepDef]:
    valid = []
    for raw in raw_steps:
        try:
            valid.append(_STEP_ADAPTER.validate_python(raw))
        except ValidationError:
            continue
    return valid


def _written_ids(raw_steps: list[Any]) -> list[str]:
    ids = (raw.get("id") if isinstance(raw, dict) else None for raw in raw_steps)
    return [i for i in ids if isinstance(i, str) and STEP_ID_RE.fullmatch(i)]


def _rule_problems(kind: Any, steps: list[StepDef], raw_steps: list[Any], no_steps: bool) -> list[Problem]:
    """Rules between fields of a step and between steps, over the steps that are valid."""
    problems = [Problem(message, s.id, field) for s in steps for field, message in s.rule_problems()]
    if no_steps and kind != "autopilot":
        problems.append(Problem("a workflow needs at least one step", field="steps"))
    written = _written_ids(raw_steps)
    seen: set[str] = set()
    for step_id in written:
        if step_id in seen:
            problems.append(Problem("duplicate step id", step_id, "id"))
        seen.add(step_id)
    problems += _needs_problems(steps, set(written))
    problems += _review_problems(steps)
    cycle = _find_cycle(steps)
    if cycle:
        message = f"steps depend on each other in a cycle: {' → '.join(cycle)}"
        problems.append(Problem(message, cycle[0], "needs"))
    return problems


def _needs_problems(steps: list[StepDef], written: set[str]) -> Iterator[Problem]:
    for step in steps:
        for need in step.needs:
            if need == step.id:
                yield Problem("a step cannot need itself", step.id, "needs")
            elif need not in written:  # a written step that is invalid has problems of its own
                yield Problem(f"unknown step '{need}'", step.id, "needs")


def _review_problems(steps: list[StepDef]) -> Iterator[Problem]:
    """A review gate reviews an agent step it needs."""
    by_id = {s.id: s for s in steps}
    for step in steps:
        if not isinstance(step, ApprovalStep) or not step.with_.review:
            continue
        target = step.with_.review
        reviewed = by_id.get(target)
        if reviewed is None:
            yield Problem(f"unknown step '{target}'", step.id, "with.review")
        elif reviewed.uses != "agent":
            message = f"'{target}' is a {reviewed.uses} step; a review gate reviews an agent step"
            yield Problem(message, step.id, "with.review")
        elif target not in step.needs:
            message = f"the gate must need the step it reviews: add '{target}' to its needs"
            yield Problem(message, step.id, "with.review")


def _find_cycle(steps: list[StepDef]) -> list[str]:
    """The first cycle of needs found, as a path back to its start; iterative, so a chain
    of thousands of steps costs no recursion."""
    graph = {s.id: [n for n in s.needs if n != s.id] for s in steps}
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    for root in graph:
        if root in state:
            continue
        path, pending = [root], [iter(graph[root])]
        state[root] = 1
        while pending:
            nxt = next(pending[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                pending.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif nxt in graph and nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                pending.append(iter(graph[nxt]))
    return []


# --- pydantic's errors in the template's words ----------------------------------------------------


def _problem(error: ErrorDetails, data: dict[str, Any]) -> Problem:
    loc = tuple(error["loc"])
    # A step's loc names its kind after its index (steps, 0, shell, with, command).
    if len(loc) > 2 and loc[0] == "steps" and isinstance(loc[1], int) and loc[2] in STEP_MODELS:
        path: JsonPath = (*loc[:2], *loc[3:])
        model: type[BaseModel] = STEP_MODELS[str(loc[2])]
        inner: JsonPath = loc[3:]
    else:
        path, model, inner = loc, TemplateDef, loc
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = ctx.get("tag")
        written = f"unknown step kind {tag!r}" if tag is not None else "a step needs uses"
        return _located(data, (*path, "uses"), f"{written} (one of: {', '.join(STEP_KINDS)})")
    return _located(data, path, _message(kind, ctx, error["msg"], _owner(model, inner), inner))


def _message(
    kind: str, ctx: dict[str, Any], text: str, owner: type[BaseModel] | None, inner: JsonPath
) -> str:
    name = inner[-1] if inner else None
    field = _field(owner, name)
    if kind == "says":
        return text
    if kind == "value_error":
        return str(ctx.get("error", text))
    if kind == "missing":
        return _missing(field)
    if kind == "extra_forbidden":
        allowed = sorted(_aliases(owner)) if owner else []
        return (
            f"unknown field (allowed: {', '.join(allowed)})"
            if allowed
            else "unknown field (this kind takes none)"
        )
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        is_step = len(inner) == 2 and inner[0] == "steps" and isinstance(inner[1], int)
        return "a step must be a mapping with id and uses" if is_step else "must be a mapping"
    if kind in ("string_too_long", "too_long"):
        unit = "characters" if kind == "string_too_long" else "items"
        return f"at most {ctx.get('max_length')} {unit}"
    return _PLAIN.get(kind, text)


def _missing(field: Any) -> str:
    says = next((m for m in field.metadata if isinstance(m, Says)), None) if field else None
    if says is not None:
        return says.message
    settings = _model_in(field.annotation) if field else None
    if settings is not None:  # a `with` this kind cannot do without
        required = [alias for alias, info in _aliases(settings).items() if info.is_required()]
        return f"required, with {', '.join(required)}"
    return "required"


_PLAIN = {
    "string_type": "must be text",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
}


def _aliases(model: type[BaseModel]) -> dict[str, Any]:
    return {info.alias or name: info for name, info in model.model_fields.items()}


def _field(owner: type[BaseModel] | None, name: str | int | None) -> Any:
    return _aliases(owner).get(str(name)) if owner is not None and name is not None else None


def _owner(model: type[BaseModel], inner: JsonPath) -> type[BaseModel] | None:
    """The model whose field the last part of `inner` (a path inside `model`) names."""
    current: type[BaseModel] | None = model
    for part in inner[:-1]:
        if isinstance(part, int) or current is None:
            continue
        field = _field(current, part)
        current = _model_in(field.annotation) if field is not None else None
    return current


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        if (found := _model_in(arg)) is not None:
            return found
    return None


def _located(data: dict[str, Any], path: JsonPath, message: str) -> Problem:
    """The problem at `path`, naming the step (its id, or #n) and the field inside it."""
    steps = data.get("steps")
    if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int) and isinstance(steps, list):
        raw = steps[path[1]]
        step_id = raw.get("id") if isinstance(raw, dict) else None
        label = step_id if isinstance(step_id, str) and STEP_ID_RE.fullmatch(step_id) else f"#{path[1] + 1}"
        return Problem(message, label, dotted(path[2:]) or None)
    return Problem(message, None, dotted(path) or None)
