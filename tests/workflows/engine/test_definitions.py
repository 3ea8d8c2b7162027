from __future__ import annotations

import pytest

from workflows.engine.definitions import TemplateInvalid, parse_source, validate
from workflows.engine.durations import parse_duration


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
