"""One write request at a time per web process on SQLite, whichever door it comes through
(workflows.writes): the pages' forms, the API and the admin wait for the write in front;
reads never do. Against a real web process, concurrent writes through a page and the API
all succeed, none with "database is locked"."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils.crypto import get_random_string

from accounts.services import token_create
from tests.conftest import make_user
from tests.processes import start_daphne
from workflows.models import Run
from workflows.services.templates import template_save
from workflows.writes import write_lock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

NOOP = {"name": "noop-once", "steps": [{"id": "only", "uses": "noop"}]}


def _in_thread(request: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    answers: list[Any] = []

    def go() -> None:
        try:
            answers.append(request())
        finally:
            connections.close_all()

    thread = threading.Thread(target=go)
    thread.start()
    return thread, answers


def test_every_door_waits_for_the_write_in_front_on_sqlite_and_reads_never_do(team_users, project):
    template_save(data=NOOP, created_by=None, channel="system")
    page = Client()
    page.force_login(team_users.member)
    _, token = token_create(user=team_users.member, name="tests", channel="system")
    api = Client(headers={"Authorization": f"Bearer {token}"})
    staff = Client()
    staff.force_login(make_user("staff-user", is_staff=True, is_superuser=True))
    doors = {
        "page": lambda: page.post(
            reverse("run_create", args=[project.slug]), {"workflow": "noop-once", "allow_concurrent": "1"}
        ),
        "api": lambda: api.post(
            "/api/v1/runs", json.dumps({"project": project.slug, "workflow": "noop-once"}), "application/json"
        ),
        "admin": lambda: staff.post("/admin/logout/"),
    }
    sqlite = connection.vendor == "sqlite"
    with write_lock:  # as a write request in front holds it
        waiting = {door: _in_thread(request) for door, request in doors.items()}
        read, read_answers = _in_thread(lambda: page.get(project.get_absolute_url()))
        read.join(timeout=30)
        assert read_answers and read_answers[0].status_code == 200  # a read went by
        for door, (thread, answers) in waiting.items():
            thread.join(timeout=1 if sqlite else 30)
            # On SQLite still queued behind the lock; PostgreSQL takes writers at once.
            assert thread.is_alive() is sqlite and bool(answers) is not sqlite, door
    for door, (thread, answers) in waiting.items():
        thread.join(timeout=30)
        assert answers, door
    assert waiting["page"][1][0].status_code == 302 and waiting["page"][1][0]["Location"].startswith("/runs/")
    assert waiting["api"][1][0].status_code == 201
    assert waiting["admin"][1][0].status_code in (200, 302)
    assert Run.objects.count() == 2


def _post(port: int, path: str, body: str, headers: dict[str, str]) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status, answer.getheader("Location") or ""
    finally:
        conn.close()


@pytest.mark.slow
def test_concurrent_writes_through_a_page_and_the_api_all_succeed(team_users, project):
    template_save(data=NOOP, created_by=None, channel="system")
    _, token = token_create(user=team_users.member, name="tests", channel="system")
    browser = Client()
    browser.force_login(team_users.member)
    session = browser.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = get_random_string(32)
    page = (
        reverse("run_create", args=[project.slug]),
        "workflow=noop-once&allow_concurrent=1",
        {
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}",
            "X-CSRFToken": csrf,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    api = (
        "/api/v1/runs",
        json.dumps({"project": project.slug, "workflow": "noop-once"}),
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    web = start_daphne()
    try:
        with ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(lambda door: (door[0], _post(web.port, *door)), [page, api] * 20))
        log = web.log()
    finally:
        web.stop()
    pages = [answer for path, answer in answers if path == page[0]]
    apis = [answer for path, answer in answers if path == api[0]]
    assert all(status == 302 and location.startswith("/runs/") for status, location in pages), pages
    assert all(status == 201 for status, _ in apis), apis
    assert "database is locked" not in log
    assert Run.objects.count() == 40
