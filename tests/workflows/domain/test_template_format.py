from __future__ import annotations

import pytest

from workflows.domain.durations import parse_duration
from workflows.domain.template_format import (
    STEP_KINDS,
    AgentStep,
    AgentWith,
    ApprovalStep,
    ApprovalWith,
    NoopStep,
    NoOptions,
    NoopWith,
    QualityGateStep,
    QualityGateWith,
    ShellStep,
    ShellWith,
    VerifyTasksStep,
)
from workflows.domain.template_source import parse_source
from workflows.domain.template_validation import MAX_PROBLEMS, TemplateInvalid, validate
from workflows.services.templates import BUILTIN_DIR


def problems(doc: dict) -> list[str]:
    with pytest.raises(TemplateInvalid) as info:
        validate(doc)
    return [str(p) for p in info.value.problems]


def test_it_accepts_the_contract_example():
    doc = parse_source(
        """
name: verify-and-sync
max_parallel: 4
steps:
  - id: verify
    uses: verify_tasks
  - id: review
    uses: approval
    needs: [verify]
    with: {approvers: ["role:approver"], quorum: 1, timeout: 24h, on_timeout: reject}
  - id: sync
    uses: sync_tasks
    needs: [review]
""",
        "application/yaml",
    )
    template = validate(doc)
    assert [s.id for s in template.steps] == ["verify", "review", "sync"]
    assert template.step("sync").needs == ("review",)


def test_unknown_kind_names_the_step_and_field():
    found = problems({"name": "x", "steps": [{"id": "a", "uses": "teleport"}]})
    assert found == [
        "step 'a', uses: unknown step kind 'teleport' (one of: verify_tasks, sync_tasks, quality_gate, status, shell, agent, approval, noop)"
    ]


def test_unknown_need():
    found = problems({"name": "x", "steps": [{"id": "a", "uses": "noop", "needs": ["b"]}]})
    assert found == ["step 'a', needs: unknown step 'b'"]


def test_cycle_is_named():
    found = problems(
        {
            "name": "x",
            "steps": [
                {"id": "a", "uses": "noop", "needs": ["c"]},
                {"id": "b", "uses": "noop", "needs": ["a"]},
                {"id": "c", "uses": "noop", "needs": ["b"]},
            ],
        }
    )
    assert len(found) == 1 and "cycle" in found[0] and "a → c → b → a" in found[0]


def test_duplicate_ids():
    found = problems({"name": "x", "steps": [{"id": "a", "uses": "noop"}, {"id": "a", "uses": "noop"}]})
    assert "step 'a', id: duplicate step id" in found


def test_bad_duration_and_retries():
    found = problems({"name": "x", "steps": [{"id": "a", "uses": "noop", "timeout": "soon", "retries": 99}]})
    assert "step 'a', timeout: 'soon' is not a duration (use e.g. 90s, 30m, 24h, 2d)" in found
    assert "step 'a', retries: must be a whole number from 0 to 10" in found


def test_bad_with_fields():
    found = problems(
        {
            "name": "x",
            "steps": [
                {"id": "sh", "uses": "shell", "with": {"cmd": "ls"}},
                {
                    "id": "gate",
                    "uses": "approval",
                    "with": {"approvers": ["role:boss"], "on_timeout": "explode"},
                },
            ],
        }
    )
    assert "step 'sh', with.cmd: unknown field (allowed: command, cwd, env, report)" in found
    assert "step 'sh', with.command: a shell step needs a command" in found
    assert "step 'gate', with.approvers: unknown role in 'role:boss'" in found
    assert "step 'gate', with.on_timeout: must be reject, approve or escalate" in found


def test_for_each_and_join():
    ok = validate(
        {
            "name": "x",
            "steps": [
                {"id": "a", "uses": "noop", "for_each": [1, 2, 3], "join": 2},
            ],
        }
    )
    assert ok.steps[0].join == 2
    found = problems(
        {
            "name": "x",
            "steps": [
                {"id": "a", "uses": "noop", "for_each": [1, 2], "join": 3},
                {"id": "b", "uses": "noop", "for_each": "everything"},
                {"id": "c", "uses": "noop", "join": "any"},
            ],
        }
    )
    assert "step 'a', join: k=3 is more than the 2 items" in found
    assert any(p.startswith("step 'b', for_each:") for p in found)
    assert "step 'c', join: join only applies to a step with for_each" in found


def test_bad_yaml_and_non_mapping():
    with pytest.raises(TemplateInvalid, match="not valid YAML"):
        parse_source("steps: [", "application/yaml")
    with pytest.raises(TemplateInvalid, match="not valid JSON"):
        parse_source("{", "application/json")
    with pytest.raises(TemplateInvalid, match="must be a mapping"):
        parse_source("- a\n- b", "application/yaml")


def test_name_rules():
    assert "name: must be lowercase letters, digits, '-' or '_' (1-80 characters)" in problems(
        {"name": "Bad Name", "steps": [{"id": "a", "uses": "noop"}]}
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90), ("90", 90), ("90s", 90), ("30m", 1800), ("24h", 86400), ("2d", 172800), ("1h30m", 5400)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "-5", 0, "5x", True, "1h soon"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_parallel_tasks_fans_out_only_an_implement_tasks_agent_step():
    agent = {"id": "impl", "uses": "agent", "with": {"workflow": "implement_tasks"}}
    ok = validate({"name": "x", "steps": [{**agent, "for_each": "parallel_tasks", "join": 1}]})
    assert ok.steps[0].for_each == "parallel_tasks"
    found = problems(
        {
            "name": "x",
            "steps": [
                {"id": "a", "uses": "shell", "with": {"command": "echo"}, "for_each": "parallel_tasks"},
                {
                    "id": "b",
                    "uses": "agent",
                    "with": {"workflow": "generate_tests"},
                    "for_each": "parallel_tasks",
                },
            ],
        }
    )
    message = "parallel_tasks fans out only an agent step with workflow: implement_tasks"
    assert f"step 'a', for_each: {message}" in found
    assert f"step 'b', for_each: {message}" in found


# --- one model per kind, unknown keys refused at every level ------------------------------------


def test_unknown_keys_are_refused_at_the_template_step_and_with_levels():
    found = problems(
        {
            "name": "x",
            "colour": "blue",
            "steps": [
                {"id": "a", "uses": "noop", "after": "b"},
                {"id": "b", "uses": "agent", "with": {"workflow": "generate_tests", "command": "ls"}},
                {"id": "c", "uses": "verify_tasks", "with": {"strict": True}},
            ],
        }
    )
    assert sorted(found) == sorted(
        [
            "colour: unknown field (allowed: description, kind, max_iterations, max_parallel, mode, name, steps)",
            "step 'a', after: unknown field (allowed: for_each, id, join, name, needs, retries, timeout, uses, with)",
            "step 'b', with.command: unknown field (allowed: prompt, workflow)",
            "step 'c', with.strict: unknown field (this kind takes none)",
        ]
    )


def test_unknown_keys_inside_an_approval_form_field_are_refused():
    gate = {"approvers": ["role:approver"], "form": [{"name": "risk", "placeholder": "low?"}]}
    found = problems({"name": "x", "steps": [{"id": "g", "uses": "approval", "with": gate}]})
    assert found == [
        "step 'g', with.form[0].placeholder: unknown field "
        "(allowed: choices, label, max, min, name, required, type)"
    ]


@pytest.mark.parametrize(
    ("uses", "with_", "step_model", "with_model"),
    [
        ("shell", {"command": "make test", "cwd": "app"}, ShellStep, ShellWith),
        ("agent", {"workflow": "implement_tasks"}, AgentStep, AgentWith),
        ("approval", {"approvers": ["ann"], "review": "impl"}, ApprovalStep, ApprovalWith),
        ("quality_gate", {"min_coverage": None}, QualityGateStep, QualityGateWith),
        ("noop", {"sleep": 0.5}, NoopStep, NoopWith),
        ("verify_tasks", None, VerifyTasksStep, NoOptions),
    ],
)
def test_the_union_picks_the_with_model_of_each_kind(uses, with_, step_model, with_model):
    step = {"id": "s", "uses": uses, "needs": ["impl"]}
    if with_ is not None:
        step["with"] = with_
    impl = {"id": "impl", "uses": "agent", "with": {"workflow": "implement_tasks"}}
    template = validate({"name": "x", "steps": [impl, step]})
    chosen = template.step("s")
    assert type(chosen) is step_model and type(chosen.with_) is with_model
    # The engine reads what was written, nothing filled in (Step.config).
    assert chosen.config == (with_ or {})


def test_a_field_of_one_kind_is_refused_in_another():
    found = problems({"name": "x", "steps": [{"id": "a", "uses": "noop", "with": {"command": "ls"}}]})
    assert found == ["step 'a', with.command: unknown field (allowed: fail, message, sleep)"]


def test_durations_are_held_as_seconds_and_needs_once_each():
    template = validate(
        {
            "name": "x",
            "steps": [
                {"id": "a", "uses": "noop"},
                {"id": "b", "uses": "noop", "needs": "a", "timeout": "1h30m"},
                {"id": "c", "uses": "noop", "needs": ["a", "b", "a"]},
            ],
        }
    )
    assert template.step("b").needs == ("a",) and template.step("b").timeout == 5400
    assert template.step("c").needs == ("a", "b")


def test_form_fields_are_checked_field_by_field():
    form = [
        {"name": "risk", "type": "choice"},
        {"name": "hours", "type": "number", "min": "none"},
        {"name": "risk", "type": "dropdown"},
        {"label": "no name"},
    ]
    found = problems(
        {"name": "x", "steps": [{"id": "g", "uses": "approval", "with": {"approvers": ["a"], "form": form}}]}
    )
    assert found == [
        "step 'g', with.form[1].min: must be a number",
        "step 'g', with.form[2].type: must be one of: text, number, choice, boolean",
        "step 'g', with.form[3].name: a form field needs a name",
    ]
    rules = problems(
        {
            "name": "x",
            "steps": [
                {
                    "id": "g",
                    "uses": "approval",
                    "with": {
                        "approvers": ["a"],
                        "form": [{"name": "risk", "type": "choice"}, {"name": "risk"}],
                    },
                }
            ],
        }
    )
    assert rules == ["step 'g', with.form: duplicate field name 'risk'"]


def test_a_choice_field_needs_its_choices():
    form = [{"name": "risk", "type": "choice"}]
    found = problems(
        {"name": "x", "steps": [{"id": "g", "uses": "approval", "with": {"approvers": ["a"], "form": form}}]}
    )
    assert found == ["step 'g', with.form[0].choices: a choice field needs choices"]


def test_an_approval_timeout_rule_names_each_field():
    gate = {"approvers": ["role:approver"], "on_timeout": "escalate"}
    found = problems({"name": "x", "steps": [{"id": "g", "uses": "approval", "with": gate}]})
    assert found == [
        "step 'g', with.on_timeout: on_timeout needs a timeout",
        "step 'g', with.escalate_to: escalate needs escalate_to",
    ]


def test_one_answer_lists_at_most_max_problems_of_a_kind():
    steps = [{"id": f"s{i}", "uses": "noop", "retries": -1} for i in range(3 * MAX_PROBLEMS)]
    found = problems({"name": "x", "steps": steps})
    assert len(found) == MAX_PROBLEMS + 1
    assert found[-1] == f"and {2 * MAX_PROBLEMS} more like these"


def test_a_step_that_is_not_a_mapping_or_has_no_uses_is_named_by_position():
    found = problems({"name": "x", "steps": ["verify", {"id": "b"}]})
    assert found == [
        "step '#1': a step must be a mapping with id and uses",
        f"step 'b', uses: a step needs uses (one of: {', '.join(STEP_KINDS)})",
    ]


@pytest.mark.parametrize("path", sorted(BUILTIN_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_the_builtin_templates_validate(path):
    template = validate(parse_source(path.read_text(), "application/yaml"))
    assert template.name == path.stem


def test_a_kind_that_needs_settings_says_which_when_with_is_missing():
    found = problems(
        {"name": "x", "steps": [{"id": "a", "uses": "shell"}, {"id": "b", "uses": "noop", "with": None}]}
    )
    assert found == ["step 'a', with: required, with command"]


def test_a_long_chain_of_steps_validates_and_its_cycle_is_found_without_recursion():
    chain = [{"id": "s0", "uses": "noop"}] + [
        {"id": f"s{i}", "uses": "noop", "needs": [f"s{i - 1}"]} for i in range(1, 5000)
    ]
    assert len(validate({"name": "x", "steps": chain}).steps) == 5000
    chain[0] = {"id": "s0", "uses": "noop", "needs": ["s4999"]}
    (found,) = problems({"name": "x", "steps": chain})
    assert found.startswith("step 's0', needs: steps depend on each other in a cycle: s0 → s4999 → s4998")


def test_steps_that_are_not_a_list_are_one_problem():
    assert problems({"name": "x", "steps": {"a": 1}}) == ["steps: must be a list"]
    assert problems({"name": "x", "steps": []}) == ["steps: a workflow needs at least one step"]
    assert validate({"name": "x", "kind": "autopilot", "steps": []}).steps == ()
