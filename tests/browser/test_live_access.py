"""The live run stream re-checks access while a socket is open (real daphne, real Chromium):
a member removed from the team, or a session that signed out, stops receiving events and
the socket closes; a path that names no run is refused at the handshake, not a 500."""

from __future__ import annotations

import socket

import pytest

from accounts.models import Membership
from tests.browser.conftest import sign_in
from tests.workflows.engine.conftest import start, template

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

OPEN_SOCKET = """([runId]) => new Promise((resolve) => {
  const ws = new WebSocket(`ws://${location.host}/ws/runs/${runId}/?after=0`);
  window.__closed = null; window.__messages = [];
  ws.onmessage = (m) => window.__messages.push(JSON.parse(m.data));
  ws.onclose = (e) => { window.__closed = e.code; };
  ws.onopen = () => resolve(true);
  setTimeout(() => resolve(false), 5000);
})"""


def watch(page, server, user, run) -> None:
    sign_in(page, user, server.url)
    page.goto(f"{server.url}/approvals/")
    assert page.evaluate(OPEN_SOCKET, [run.pk]) is True
    page.wait_for_function("window.__messages.length > 0")


def closed_code(page) -> int:
    page.wait_for_function("window.__closed !== null", timeout=10_000)
    return int(page.evaluate("window.__closed"))


@pytest.fixture
def run(eproject, team_users):
    return start(eproject, template(name="watched", steps=[{"id": "a", "uses": "noop"}]), team_users.member)


def test_a_member_removed_from_the_team_stops_receiving_events(page, daphne_server, team_users, run):
    watch(page, daphne_server, team_users.member, run)
    Membership.objects.filter(user=team_users.member).delete()
    assert closed_code(page) == 4403
    assert {"type": "access.revoked"} in page.evaluate("window.__messages")


def test_a_session_that_signed_out_stops_receiving_events(page, daphne_server, team_users, run):
    watch(page, daphne_server, team_users.member, run)
    other_tab = page.context.new_page()
    other_tab.goto(f"{daphne_server.url}/")
    with other_tab.expect_navigation():
        other_tab.evaluate("document.querySelector(\"form[action$='/logout/']\").submit()")
    assert "/accounts/login/" in other_tab.url or "logged" in other_tab.content().lower()
    assert closed_code(page) == 4403


def test_another_teams_user_cannot_open_the_socket(page, daphne_server, team_users, run):
    sign_in(page, team_users.outsider, daphne_server.url)
    page.goto(f"{daphne_server.url}/approvals/")
    assert page.evaluate(OPEN_SOCKET, [run.pk]) is False
    assert page.evaluate("window.__messages") == []


def test_a_member_still_in_the_team_keeps_the_socket(page, daphne_server, team_users, run):
    watch(page, daphne_server, team_users.member, run)
    page.wait_for_timeout(3000)  # longer than a re-check interval
    assert page.evaluate("window.__closed") is None


@pytest.mark.parametrize("path", ["/ws/runs/-1/", "/ws/runs/99999999999999999999/", "/ws/nothing/"])
def test_a_socket_path_that_names_no_run_is_refused_at_the_handshake(daphne_server, path):
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{daphne_server.port}\r\n"
        f"Origin: http://127.0.0.1:{daphne_server.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    logged_before = len(daphne_server.log())
    with socket.create_connection(("127.0.0.1", daphne_server.port), timeout=10) as sock:
        sock.sendall(request.encode())
        status_line = sock.recv(200).split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 403 "), status_line
    assert "Traceback" not in daphne_server.log()[logged_before:]
