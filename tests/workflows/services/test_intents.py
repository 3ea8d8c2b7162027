"""workflows.services.intents: the rules both the command box and POST /intents follow."""

from __future__ import annotations

import pytest

from accounts.models import AuditEntry
from workflows.models import Run, WorkflowTemplate
from workflows.services.errors import RunError
from workflows.services.intents import intent_can_start, intent_execute, intent_parse
from workflows.services.templates import templates_builtin_ensure

pytestmark = pytest.mark.django_db

SPEC = "spec-core-001-authentication"


def execute(text, *, user, project):
    intent = intent_parse(text=text, project=project)
    return intent_execute(intent=intent, project=project, user=user, channel="web")


def refusal(text, *, user, project):
    with pytest.raises(RunError) as caught:
        execute(text, user=user, project=project)
    assert not Run.objects.exists()
    return caught.value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("good morning", "Nothing was done: the request was not understood."),
        (f"rename {SPEC}", "Spec edits are proposed, never applied from a command; open the spec to edit."),
    ],
)
def test_what_does_nothing_needs_no_project_and_says_so(team_users, text, message):
    outcome = execute(text, user=team_users.viewer, project=None)
    assert (outcome.executed, outcome.message, outcome.run, outcome.specs) == (False, message, None, None)


@pytest.mark.parametrize("text", ["status", f"verify {SPEC}"])
def test_acting_needs_a_project(team_users, text):
    error = refusal(text, user=team_users.member, project=None)
    assert (error.code, error.field, str(error)) == ("invalid", "project", "Name the project to act in.")


def test_a_status_is_read_by_any_role_without_a_run(team_users, project):
    outcome = execute("status of core-001", user=team_users.viewer, project=project)
    assert outcome.executed is True and outcome.run is None
    assert outcome.message == f"Show the status and next step of {SPEC}"
    assert [d.status.spec_id for d in outcome.specs] == [SPEC]
    every = execute("show status", user=team_users.viewer, project=project)
    assert [d.status.spec_id for d in every.specs] == [SPEC, "spec-feature-002-orders"]
    assert not Run.objects.exists()


def test_the_status_of_an_unknown_spec_is_not_found(team_users, project):
    error = refusal("status of spec-nowhere", user=team_users.viewer, project=project)
    assert (error.code, str(error)) == ("not_found", "No spec 'spec-nowhere' in this project.")


def test_starting_a_workflow_runs_it_on_the_named_spec(team_users, project):
    outcome = execute("verify core-001", user=team_users.member, project=project)
    run = Run.objects.get()
    assert outcome.run == run and outcome.executed is True
    assert outcome.message == f"Started verify-and-sync on {SPEC}: run {run.pk}."
    assert (run.workflow_name, run.spec_id, run.started_by) == ("verify-and-sync", SPEC, team_users.member)
    entry = AuditEntry.objects.get(action="workflows.run.started")
    assert entry.channel == "web"


def test_starting_needs_the_member_role_before_anything_else(team_users, project):
    for text in (f"verify {SPEC}", "verify it"):
        error = refusal(text, user=team_users.viewer, project=project)
        assert (error.code, str(error)) == ("forbidden", "Starting a workflow needs the member role.")


def test_starting_needs_a_spec(team_users, project):
    error = refusal("verify it", user=team_users.member, project=project)
    assert (error.code, error.field) == ("invalid", "text")
    assert str(error) == "Name the spec to run it on, e.g. spec-core-001 or core-001."


def test_starting_a_workflow_that_is_not_installed_is_refused(team_users, project):
    templates_builtin_ensure()  # else the first lookup would install it
    WorkflowTemplate.objects.filter(name="verify-and-sync").delete()
    error = refusal(f"verify {SPEC}", user=team_users.member, project=project)
    assert (error.code, error.field) == ("invalid", "text")
    assert str(error) == "No workflow named 'verify-and-sync'."


def test_the_runs_own_rules_still_apply(team_users, project):
    error = refusal("verify spec-nowhere", user=team_users.member, project=project)
    assert (error.code, error.field) == ("invalid", "spec_id")


@pytest.mark.parametrize(
    ("role", "text", "can"),
    [
        ("member", "verify core-001", True),
        ("admin", f"run autopilot on {SPEC}", True),
        ("viewer", f"verify {SPEC}", False),
        ("member", "verify it", False),
        ("member", f"status of {SPEC}", False),
        ("member", f"rename {SPEC}", False),
    ],
)
def test_can_start_says_whether_execute_would_start_a_run(team_users, project, role, text, can):
    user = getattr(team_users, role)
    intent = intent_parse(text=text, project=project)
    assert intent_can_start(intent, project=project, user=user) is can
