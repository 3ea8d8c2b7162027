"""GET /runs/{id} answers from memory while the run is unchanged, and never stale."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from ninja.responses import NinjaJSONEncoder

from tests.api.conftest import save_template
from tests.workflows.engine.conftest import drain
from workflows.api.schemas import RunDetailOut
from workflows.models import Run
from workflows.services.runs import run_cancel, run_start

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def fresh(run: Run) -> dict:
    """What RunDetailOut says about the run straight from the database."""
    run = Run.objects.select_related("project", "template_version", "started_by").get(pk=run.pk)
    return json.loads(json.dumps(RunDetailOut.from_orm(run).model_dump(), cls=NinjaJSONEncoder))


def read(client, run: Run) -> tuple[dict, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/runs/{run.pk}")
    assert response.status_code == 200, response.content
    return response.json(), len(queries)


@pytest.fixture
def chain_run(eproject, team_users):
    version = save_template(
        {
            "name": "cache-chain",
            "steps": [{"id": "a", "uses": "noop"}, {"id": "b", "uses": "noop", "needs": ["a"]}],
        }
    )
    return run_start(project=eproject, version=version, started_by=team_users.member, channel="api")


def test_a_second_read_of_an_unchanged_run_costs_two_statements(as_user, team_users, chain_run):
    client = as_user(team_users.member)
    first, first_queries = read(client, chain_run)
    again, again_queries = read(client, chain_run)
    assert again == first == fresh(chain_run)
    # The token and the run's version; the run, its project and its steps are not read again.
    assert again_queries == 2 < first_queries


def test_every_change_to_the_run_shows_at_once(as_user, team_users, chain_run):
    client = as_user(team_users.member)
    before, _ = read(client, chain_run)
    assert [s["status"] for s in before["steps"]] == ["queued", "pending"]

    drain(chain_run)
    after, _ = read(client, chain_run)
    assert after == fresh(chain_run)
    assert after["status"] == "succeeded" and [s["status"] for s in after["steps"]] == ["succeeded"] * 2
    assert after["last_seq"] > before["last_seq"]


def test_a_cancel_shows_at_once(as_user, team_users, chain_run):
    client = as_user(team_users.member)
    read(client, chain_run)
    run_cancel(run=chain_run, by=team_users.member, channel="api")
    after, _ = read(client, chain_run)
    assert after["status"] == "cancelled" and after == fresh(chain_run)


def test_renaming_the_project_shows_without_a_run_event(as_user, team_users, chain_run, eproject):
    client = as_user(team_users.member)
    read(client, chain_run)
    eproject.slug = "renamed"
    eproject.save(update_fields=["slug"])
    after, _ = read(client, chain_run)
    assert after["project"] == "renamed"


def test_a_cached_run_is_still_hidden_from_other_teams(as_user, team_users, chain_run):
    read(as_user(team_users.member), chain_run)  # now in the cache
    response = as_user(team_users.outsider).get(f"/runs/{chain_run.pk}")  # an admin of another team
    assert response.status_code == 404
    assert response.json() == {"detail": "No such run.", "code": "not_found"}


@pytest.mark.parametrize("run_id", [0, 2**63, 10**30])
def test_ids_out_of_range_are_no_such_run(as_user, team_users, run_id):
    response = as_user(team_users.member).get(f"/runs/{run_id}")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_client_that_sends_the_etag_back_gets_304_until_the_run_changes(as_user, team_users, chain_run):
    acme_run = chain_run
    api = as_user(team_users.viewer)
    first = api.get(f"/runs/{acme_run.pk}")
    etag = first["ETag"]
    assert first.status_code == 200 and etag.startswith('"')
    same = api.client.get(f"/api/v1/runs/{acme_run.pk}", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b"" and same["ETag"] == etag
    drain(acme_run)  # the run moves on: its events change the version
    moved = api.client.get(f"/api/v1/runs/{acme_run.pk}", headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved["ETag"] != etag and moved.json()["id"] == acme_run.pk
    # Another team's run stays 404, whatever the client sends.
    outsider = as_user(team_users.outsider).client.get(
        f"/api/v1/runs/{acme_run.pk}", headers={"If-None-Match": etag}
    )
    assert outsider.status_code == 404
