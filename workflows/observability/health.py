"""Liveness and readiness for load balancers and orchestrators.

The views are in workflows/views/ops.py. /healthz answers 200 whenever the process can
answer at all; it touches nothing else, so a database outage never gets healthy web
processes restarted. /readyz checks what a request needs: every database, the channel
layer (a message through it and back), every cache, and at least one live worker cluster.
It answers 200 with each check named, or 503 naming the parts that failed. Error details
go to the log, not to the (public) body.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import caches
from django.db import connections

from workflows.models import WorkerCluster
from workflows.models.workers import ALIVE_WITHIN

logger = logging.getLogger(__name__)
LAYER_TIMEOUT_SECONDS = 2.0

Check = tuple[str, Callable[[], str]]


class NotReady(Exception):
    """A check failed for a reason worth saying in the body."""


def all_checks() -> list[Check]:
    checks: list[Check] = [(f"database:{alias}", _database(alias)) for alias in connections]
    checks.append(("channel_layer", check_channel_layer))
    checks += [(f"cache:{alias}", _cache(alias)) for alias in settings.CACHES]
    checks.append(("workers", check_workers))
    return checks


def run_check(name: str, check: Callable[[], str]) -> dict[str, object]:
    try:
        return {"ok": True, "detail": check()}
    except NotReady as exc:
        logger.warning("readiness check %s failed: %s", name, exc)
        return {"ok": False, "detail": str(exc)}
    except Exception as exc:  # any failure of a dependency means "not ready", never a 500
        logger.warning("readiness check %s failed", name, exc_info=True)
        return {"ok": False, "detail": f"{type(exc).__name__} (see the server log)"}


def _database(alias: str) -> Callable[[], str]:
    def check() -> str:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "answered"

    return check


def _cache(alias: str) -> Callable[[], str]:
    def check() -> str:
        cache = caches[alias]
        key = f"readyz:{uuid.uuid4().hex}"
        cache.set(key, "1", timeout=10)
        value = cache.get(key)
        cache.delete(key)
        if value != "1":
            raise NotReady("a value written was not read back")
        return "read back a value"

    return check


def check_channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        raise NotReady("no channel layer is configured")
    async_to_sync(_round_trip)(layer)
    return "a message went through and back"


async def _round_trip(layer: object) -> None:
    async def go() -> None:
        channel = await layer.new_channel("readyz.")  # type: ignore[attr-defined]
        await layer.send(channel, {"type": "readyz.ping"})  # type: ignore[attr-defined]
        message = await layer.receive(channel)  # type: ignore[attr-defined]
        if message.get("type") != "readyz.ping":
            raise NotReady("the channel layer answered another message")

    try:
        await asyncio.wait_for(go(), LAYER_TIMEOUT_SECONDS)
    except TimeoutError:
        raise NotReady(f"no message back within {LAYER_TIMEOUT_SECONDS:g} s") from None


def check_workers() -> str:
    alive = WorkerCluster.objects.alive().count()
    if not alive:
        raise NotReady(
            f"no worker cluster reported in within {ALIVE_WITHIN.seconds} s "
            "(start one with `manage.py qcluster`)"
        )
    return f"{alive} cluster{'s' if alive != 1 else ''} alive"
