"""The live run stream: every event after the sequence the page names, in order, once.

The event table is the source of truth. On connect the consumer replays what the page
missed, then follows new events: a Channels group message (sent by workers when Redis is
configured) wakes it at once, and a poll of the indexed event table covers the embedded
mode without Redis and any message that was lost. Either way it sends only `seq >
last_sent`, so a reconnect, a daphne restart or a late join gives the full history with
no gap and no duplicate.

Access is checked when the socket opens and again every few seconds while it is open:
a user removed from the team, deactivated, or whose session was logged out (or whose
password changed) stops receiving events and the socket closes (code 4403).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from importlib import import_module
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.http import Http404, HttpRequest

from workflows.engine.journal import run_group
from workflows.models import Event
from workflows.selectors import get_run_for_user

SessionStore = import_module(settings.SESSION_ENGINE).SessionStore
BATCH = 500
POLL_SECONDS_EMBEDDED = 0.2
POLL_SECONDS_WITH_REDIS = 2.0
RECHECK_SECONDS = 2.0
MAX_ID = 2**63 - 1
CLOSE_NOT_FOUND = 4404
CLOSE_FORBIDDEN = 4403


class RunEventsConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    run_id: int
    last_sent: int

    async def connect(self) -> None:
        self.run_id = int(self.scope["url_route"]["kwargs"]["run_id"])
        if self.run_id > MAX_ID or not await self._may_watch(self.scope["user"]):
            await self.close(code=CLOSE_NOT_FOUND)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            self.last_sent = max(0, int(query.get("after", ["0"])[0]))
        except ValueError:
            self.last_sent = 0
        self.lock = asyncio.Lock()
        await self.accept()
        if settings.REDIS_URL:
            await self.channel_layer.group_add(run_group(self.run_id), self.channel_name)
        await self.catch_up()
        self.poller = asyncio.create_task(self._poll())

    async def disconnect(self, code: int) -> None:
        poller = getattr(self, "poller", None)
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        if settings.REDIS_URL and hasattr(self, "lock"):
            await self.channel_layer.group_discard(run_group(self.run_id), self.channel_name)

    async def run_event(self, message: dict[str, Any]) -> None:
        """A worker committed an event: send it and anything before it not yet sent."""
        if message["event"]["seq"] > self.last_sent:
            await self.catch_up()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The page only listens; a ping keeps proxies from closing an idle socket.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "last_seq": self.last_sent})

    async def catch_up(self) -> None:
        async with self.lock:
            while True:
                events = await self._events_after(self.last_sent)
                for event in events:
                    await self.send_json(event)
                    self.last_sent = event["seq"]
                if len(events) < BATCH:
                    return

    async def _poll(self) -> None:
        interval = POLL_SECONDS_WITH_REDIS if settings.REDIS_URL else POLL_SECONDS_EMBEDDED
        checked = time.monotonic()
        while True:
            await asyncio.sleep(min(interval, RECHECK_SECONDS))
            if time.monotonic() - checked >= RECHECK_SECONDS:
                checked = time.monotonic()
                if not await self._may_watch(await self._current_user()):
                    await self.send_json({"type": "access.revoked"})
                    await self.close(code=CLOSE_FORBIDDEN)
                    return
            await self.catch_up()

    @database_sync_to_async  # type: ignore[misc]
    def _current_user(self) -> Any:
        """The user the socket's session belongs to now, read afresh from the session store:
        anonymous once it was logged out, or its user deactivated or given a new password."""
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        if not key:
            return AnonymousUser()
        # get_user reads nothing of a request but its session.
        return get_user(cast(HttpRequest, SimpleNamespace(session=SessionStore(session_key=key))))

    @database_sync_to_async  # type: ignore[misc]
    def _may_watch(self, user: Any) -> bool:
        try:
            get_run_for_user(user, self.run_id)
        except Http404:
            return False
        return True

    @database_sync_to_async  # type: ignore[misc]
    def _events_after(self, seq: int) -> list[dict[str, Any]]:
        events = Event.objects.filter(run_id=self.run_id, seq__gt=seq).order_by("seq")[:BATCH]
        return [e.as_message() for e in events]


class UnknownSocket(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Any other websocket path: refused at the handshake (HTTP 403), never a server error."""

    async def connect(self) -> None:
        await self.close(code=CLOSE_NOT_FOUND)
