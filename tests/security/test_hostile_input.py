"""Hostile input gets a clear 4xx in the API's one error shape and changes nothing; never a 500.

Templates (YAML and JSON), run parameters, the run page's re-run form, and what daphne
itself refuses before Django sees the request (a request line or headers too large).
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from typing import Any

import pytest
from django.urls import reverse

from workflows.models import Checkpoint, Run, WorkflowTemplate

pytestmark = pytest.mark.django_db


def assert_error(response: Any, status: int | tuple[int, ...], code: str | None = None) -> dict[str, Any]:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and isinstance(body["code"], str)
    if code:
        assert body["code"] == code, body
    return body


def where(body: dict[str, Any]) -> set[tuple[str | None, str | None]]:
    return {(e.get("step"), e.get("field")) for e in body.get("errors") or []}


def post_template(client: Any, text: str, content_type: str = "application/yaml") -> Any:
    return client.post("/workflows", text, content_type)


def yaml_step(uses: str, with_: str = "{}", extra: str = "") -> str:
    return f"name: hostile\nsteps:\n  - id: s\n    uses: {uses}\n    with: {with_}\n{extra}"


def refused(response: Any, step: str | None, field: str, text: str | None = None) -> None:
    body = assert_error(response, 422, "invalid_template")
    assert (step, field) in where(body), body
    if text is not None:
        assert text in json.dumps(body), body
    assert not WorkflowTemplate.objects.filter(name="hostile").exists()


# --- 1. YAML that builds what JSON cannot hold --------------------------------------------------


@pytest.mark.parametrize(
    ("with_", "field"),
    [
        ("{message: !!binary aGVsbG8=}", "with.message"),
        ("{message: !!set {a, b}}", "with.message"),
        ("{message: !!timestamp 2024-01-01}", "with.message"),
        ("{message: !!omap [{a: 1}]}", "with.message[0]"),
        ("{message: .inf}", "with.message"),
        ("{message: [1, .nan]}", "with.message[1]"),
        ("{message: {1: a, 'b': c}}", "with.message.1"),
        ("{sleep: -.inf}", "with.sleep"),
    ],
)
def test_yaml_values_json_cannot_hold_are_refused_naming_step_and_field(as_user, team_users, with_, field):
    refused(post_template(as_user(team_users.admin), yaml_step("noop", with_)), "s", field)


def test_mixed_key_types_in_a_shell_env_are_refused(as_user, team_users):
    text = yaml_step("shell", "{command: echo hi, env: {1: a, 'b': c}}")
    refused(post_template(as_user(team_users.admin), text), "s", "with.env.1", "the key 1 must be text")


def test_mixed_key_types_at_the_top_are_refused(as_user, team_users):
    text = "1: a\nname: hostile\nsteps: [{id: s, uses: noop}]\n"
    refused(post_template(as_user(team_users.admin), text), None, "1")


def test_an_infinite_timeout_is_refused(as_user, team_users):
    text = yaml_step("noop", extra="    timeout: .inf\n")
    refused(post_template(as_user(team_users.admin), text), "s", "timeout")


def test_unquoted_dates_are_kept_as_the_text_written(as_user, team_users):
    text = yaml_step("noop", "{message: 2024-01-01}", "    name: 2024-01-01 10:00:00\n")
    response = post_template(as_user(team_users.admin), text)
    assert response.status_code == 201, response.content
    step = response.json()["definition"]["steps"][0]
    assert step["with"]["message"] == "2024-01-01"
    assert step["name"] == "2024-01-01 10:00:00"


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN"])
def test_json_templates_with_non_finite_numbers_are_refused(as_user, team_users, literal):
    text = '{"name": "hostile", "steps": [{"id": "s", "uses": "noop", "with": {"message": %s}}]}'
    response = post_template(as_user(team_users.admin), text % literal, "application/json")
    refused(response, "s", "with.message")


def test_nul_characters_in_template_text_are_refused(as_user, team_users):
    # PostgreSQL's jsonb cannot store \u0000: refused at save, on SQLite as well.
    text = '{"name": "hostile", "steps": [{"id": "s", "uses": "noop", "with": {"message": "a\\u0000b"}}]}'
    refused(post_template(as_user(team_users.admin), text, "application/json"), "s", "with.message")


# --- 2. nesting depth is bounded before the document is built ----------------------------------


def _fast(call: Any) -> Any:
    started = time.process_time()
    response = call()
    assert time.process_time() - started < 2, "the refusal must not cost seconds of CPU"
    return response


@pytest.mark.parametrize(
    "text",
    [
        "[" * 20_000 + "]" * 20_000,
        "{a: " * 20_000 + "}" * 20_000,
        "- " * 20_000 + "x\n",
        "name: hostile\nsteps: [{id: s, uses: noop, with: {message: " + "[" * 20_000 + "]" * 20_000 + "}}]",
    ],
    ids=["flow-lists", "flow-maps", "block-lists", "inside-a-step"],
)
def test_deep_yaml_is_refused_fast(as_user, team_users, text):
    client = as_user(team_users.admin)
    body = assert_error(_fast(lambda: post_template(client, text)), 422, "invalid_template")
    assert "nested" in json.dumps(body)


def test_yaml_just_too_deep_is_refused_and_just_deep_enough_is_not(as_user, team_users):
    client = as_user(team_users.admin)

    def doc(levels: int) -> str:  # the template's own mapping, steps, a step, with: 4 levels
        return yaml_step("noop", "{message: " + "[" * levels + "]" * levels + "}")

    assert post_template(client, doc(28)).status_code == 201
    body = assert_error(post_template(client, doc(29)), 422, "invalid_template")
    assert "nested" in json.dumps(body)


@pytest.mark.parametrize("levels", [40, 20_000])
def test_deep_json_templates_are_refused_fast(as_user, team_users, levels):
    client = as_user(team_users.admin)
    text = '{"name": "hostile", "steps": [{"id": "s", "uses": "noop", "with": {"message": %s}}]}'
    text %= "[" * levels + "]" * levels
    body = assert_error(_fast(lambda: post_template(client, text, "application/json")), 422)
    assert body["code"] == "invalid_template" and "nested" in json.dumps(body)
    assert not WorkflowTemplate.objects.filter(name="hostile").exists()


def test_yaml_aliases_are_still_refused(as_user, team_users):
    text = "a: &a [x]\nname: hostile\nsteps: [{id: s, uses: noop, with: {message: *a}}]\n"
    body = assert_error(post_template(as_user(team_users.admin), text), 422, "invalid_template")
    assert "alias" in body["detail"]


# --- 3. fields the engine trusts later are checked at save -------------------------------------


def approval(with_: str) -> str:
    return yaml_step("approval", "{approvers: ['role:approver'], " + with_ + "}")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            approval(
                "timeout: 1h, on_timeout: escalate, escalate_to: ['role:admin'], escalate_timeout: banana"
            ),
            "with.escalate_timeout",
        ),
        (approval("escalate_to: role:admin, on_timeout: escalate, timeout: 1h"), "with.escalate_to"),
        (approval("timeout: 1.0e+30"), "with.timeout"),
        (approval("timeout: 31d"), "with.timeout"),
        (approval("timeout: 99999999999999999999999999h"), "with.timeout"),
        (approval("timeout: 0.5"), "with.timeout"),
        (yaml_step("noop", extra="    timeout: 1.0e+30\n"), "timeout"),
        (yaml_step("noop", extra="    timeout: 100000000000000000000\n"), "timeout"),
        (yaml_step("noop", extra="    timeout: 800h\n"), "timeout"),
        (approval("title: [a, b]"), "with.title"),
        (approval("title: {a: b}"), "with.title"),
        (approval('title: "Approve\\r\\nBcc: everyone@example.com"'), "with.title"),
        (approval("title: " + "x" * 201), "with.title"),
        (approval("timeout: 2h, reminders: [1.0e+30]"), "with.reminders[0]"),
        (approval("timeout: 2h, reminders: [[1h]]"), "with.reminders[0]"),
        (approval("timeout: 2h, reminders: [0.1]"), "with.reminders[0]"),
        (yaml_step("shell", "{command: echo, report: ../../etc/passwd}"), "with.report"),
        (yaml_step("shell", "{command: echo, report: [a]}"), "with.report"),
        (yaml_step("shell", "{command: echo, report: Upper}"), "with.report"),
    ],
)
def test_fields_used_later_are_checked_at_save(as_user, team_users, text, field):
    refused(post_template(as_user(team_users.admin), text), "s", field)


@pytest.mark.parametrize(
    "name",
    [
        "PATH",
        "LD_PRELOAD",
        "DYLD_INSERT_LIBRARIES",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "BASH_ENV",
        "ENV",
        "GIT_SSH_COMMAND",
        "path",
    ],
)
def test_a_shell_step_cannot_set_dangerous_environment_variables(as_user, team_users, name):
    text = yaml_step("shell", "{command: echo hi, env: {" + name + ": x}}")
    refused(post_template(as_user(team_users.admin), text), "s", "with.env", name)


def test_a_shell_step_env_name_must_be_a_name(as_user, team_users):
    text = yaml_step("shell", "{command: echo hi, env: {'A=B': x}}")
    refused(post_template(as_user(team_users.admin), text), "s", "with.env")


def test_sane_values_of_those_fields_still_save(as_user, team_users):
    text = (
        "name: hostile\nsteps:\n"
        "  - {id: s, uses: shell, timeout: 30d, with: {command: echo, report: unit-tests_1, env: {MY_VAR: 1}}}\n"
        "  - id: gate\n    uses: approval\n    with: {approvers: ['role:approver'], title: 'Ship it?', "
        "timeout: 24h, reminders: [2h, 30m], on_timeout: escalate, escalate_to: ['role:admin'], "
        "escalate_timeout: 2h}\n"
    )
    assert post_template(as_user(team_users.admin), text).status_code == 201


# --- 4. run parameters are JSON -----------------------------------------------------------------


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", '{"deep": [1, NaN]}'])
def test_non_finite_run_params_are_invalid(as_user, team_users, project, tiny_workflow, literal):
    text = '{"project": "acme-web", "workflow": "tiny", "params": {"x": ' + literal + "}}"
    body = assert_error(as_user(team_users.member).post("/runs", text), 422, "invalid")
    assert any(e["field"] == "params" for e in body["errors"]), body
    assert not Run.objects.exists()


def test_deep_run_params_are_invalid(as_user, team_users, project, tiny_workflow):
    params = json.dumps({"x": json.loads("[" * 40 + "]" * 40)})
    text = '{"project": "acme-web", "workflow": "tiny", "params": ' + params + "}"
    body = assert_error(as_user(team_users.member).post("/runs", text), 422, "invalid")
    assert any(e["field"] == "params" for e in body["errors"]), body
    assert not Run.objects.exists()


# --- 4b. what a person sends with a decision or an intent -----------------------------------------

DECISION_FORM = [{"name": "hours", "type": "number"}, {"name": "note", "type": "text"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"verdict": "approve", "form": {"hours": ' + "9" * 400 + "}}", "hours"),
        ('{"verdict": "approve", "form": {"note": ["a", "b"]}}', "note"),
        ('{"verdict": "approve", "form": {"note": {"a": 1}}}', "note"),
        ('{"verdict": "approve", "form": {"hours": NaN}}', "form"),
        ('{"verdict": "approve", "form": {"note": "a\\u0000b"}}', "form"),
        ('{"verdict": "approve", "comment": "a\\u0000b"}', "comment"),
    ],
)
def test_a_decision_with_unstorable_values_is_refused(as_user, team_users, open_gate, body, field):
    gate = open_gate(form=DECISION_FORM)
    response = as_user(team_users.approver).post(f"/approvals/{gate.pk}/decisions", body)
    answer = assert_error(response, 422)
    assert any(e["field"] == field for e in answer.get("errors") or []), answer
    assert not gate.entries.filter(kind__in=["approve", "reject"]).exists()


def test_an_intent_with_a_nul_character_is_refused(as_user, team_users):
    response = as_user(team_users.member).post("/intents", '{"text": "status of a\\u0000b"}')
    answer = assert_error(response, 422, "invalid")
    assert any(e["field"] == "text" for e in answer["errors"]), answer


# --- 5. the re-run form's checkpoint ---------------------------------------------------------------


@pytest.fixture
def finished_run(project: Any, team_users: Any, tiny_workflow: Any) -> Run:
    from workflows.services.runs import run_start

    run = run_start(project=project, version=tiny_workflow, started_by=team_users.member, channel="web")
    Run.objects.filter(pk=run.pk).update(status=Run.Status.FAILED)
    step = run.steps.get()
    Checkpoint.objects.create(run=run, seq=1, step=step, state={"key": step.key, "status": "failed"})
    return run


@pytest.mark.parametrize("checkpoint", ["abc", "1.5", "99999999999999999999999", "-1x", ""])
def test_a_rerun_with_a_bad_checkpoint_is_a_clear_400(client, team_users, finished_run, checkpoint):
    client.force_login(team_users.member)
    response = client.post(reverse("run_rerun", args=[finished_run.pk]), {"checkpoint": checkpoint})
    assert response.status_code == 400, response.status_code
    assert "checkpoint" in response.content.decode().lower()
    assert Run.objects.count() == 1


# --- 7. bodies of the wrong shape or encoding -------------------------------------------------------


@pytest.mark.parametrize("path", ["/runs", "/workflows"])
@pytest.mark.parametrize("text", ["[]", '"x"', "1", "null", "true"])
def test_a_json_body_that_is_not_an_object_is_4xx(as_user, team_users, path, text):
    response = as_user(team_users.admin).post(path, text)
    assert_error(response, (400, 422))


def test_invalid_utf8_in_a_yaml_body_is_refused(as_user, team_users):
    text = b"name: hostile\ndescription: \xff\xfe\nsteps: [{id: s, uses: noop}]\n"
    body = assert_error(post_template(as_user(team_users.admin), text), 422, "invalid_template")
    assert "UTF-8" in json.dumps(body)
    assert not WorkflowTemplate.objects.filter(name="hostile").exists()


# --- 6. daphne answers oversized requests with a status line ------------------------------------


def _raw_request(port: int, request: bytes) -> bytes:
    """Send the request whole (the server may stop reading early) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # What the server answered before it stopped reading is still to be read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


@pytest.mark.django_db(transaction=True)
def test_daphne_answers_414_to_a_request_line_too_long(daphne_server):
    answer = _raw_request(
        daphne_server.port, b"GET /healthz?" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 414 "), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["code"] == "uri_too_long"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shape", ["many", "one"])
def test_daphne_answers_431_to_headers_too_large(daphne_server, shape):
    if shape == "many":
        headers = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"v" * 1000) for i in range(100))
    else:
        headers = b"X-Filler: " + b"v" * 100_000 + b"\r\n"
    answer = _raw_request(daphne_server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["code"] == "headers_too_large"


@pytest.mark.django_db(transaction=True)
def test_daphne_still_serves_ordinary_requests(daphne_server):
    answer = _raw_request(
        daphne_server.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


def test_twisted_still_has_what_the_oversize_answers_rely_on():
    """smartspec/web.py (answer_oversized_requests) reads two private attributes of twisted's
    HTTPChannel: if this fails after a twisted upgrade, that code needs another way in."""
    from twisted.internet.testing import StringTransport
    from twisted.web.http import HTTPChannel

    channel = HTTPChannel()
    channel.makeConnection(StringTransport())
    assert channel._HTTPChannel__first_line and channel._receivedHeaderSize == 0
    channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert not channel._HTTPChannel__first_line
    assert channel._receivedHeaderSize == len(b"GET / HTTP/1.1") + len(b"Host: x")
    assert isinstance(HTTPChannel.totalHeadersSize, int) and isinstance(HTTPChannel.MAX_LENGTH, int)
    assert callable(HTTPChannel.lineLengthExceeded) and callable(HTTPChannel.lineReceived)
    channel.connectionLost(None)
