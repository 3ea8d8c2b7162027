"""`GET /runs/{id}` answered from memory while the run has not changed.

Every change to a run or its steps appends an event in the same transaction (the engine's
rule, which the run page's live updates rely on too), so the run's last event sequence
versions everything `RunDetailOut` shows. The names it borrows from other rows — the
project's slug and the starter's username — join the version, as they can change without
an event, and so does the run's creation time, so a run id used again (a database
restored from a backup) never meets an old entry. Each request costs one small statement
that checks both the version and the caller's right to see the run; the JSON is built
through `RunDetailOut` only when the version moved. A client polling a run it watches is
the common case this serves; one that sends the ETag back (If-None-Match) gets Django's
304 with no body (django.utils.cache.get_conditional_response). Kept for the figures in
docs/benchmarks.md (GET /runs/{id}: 3.8 → 1.2 ms of server CPU).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from django.http import Http404
from django.utils.http import quote_etag

from accounts.models import Membership
from workflows.models import Project, Run

Version = tuple[int, object, str, str | None]

# SQL rather than a queryset: through the ORM this check cost 1.26 ms of CPU against
# 0.05 ms per read (docs/benchmarks.md, "REST API").
_SQL = (
    f"SELECT r.last_seq, r.created_at, p.slug, u.{User.USERNAME_FIELD} "  # noqa: S608 - names from the models
    f"FROM {Run._meta.db_table} r "
    f"JOIN {Project._meta.db_table} p ON p.id = r.project_id "
    f"LEFT JOIN {User._meta.db_table} u ON u.id = r.started_by_id "
    f"WHERE r.id = %s AND p.team_id IN (SELECT team_id FROM {Membership._meta.db_table} WHERE user_id = %s)"
)
CAPACITY = 1024
MAX_ID = 2**63 - 1  # BigAutoField


class RunDetailCache:
    """The rendered detail of the runs read most recently, each with its version."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.entries: OrderedDict[int, tuple[Version, bytes]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, run_id: int, user: Any, render: Callable[[], bytes]) -> tuple[str, bytes]:
        """The run's version as an ETag and its detail as JSON bytes; 404 when the user may
        not see it. The ETag is what Django's conditional responses compare (304)."""
        version = _version(run_id, user.pk)
        etag = quote_etag(hashlib.blake2b(repr((run_id, *version)).encode(), digest_size=12).hexdigest())
        with self.lock:
            entry = self.entries.get(run_id)
            if entry is not None and entry[0] == version:
                self.entries.move_to_end(run_id)
                return etag, entry[1]
        body = render()
        with self.lock:
            self.entries[run_id] = (version, body)
            self.entries.move_to_end(run_id)
            while len(self.entries) > self.capacity:
                self.entries.popitem(last=False)
        return etag, body


def _version(run_id: int, user_id: int) -> Version:
    if not 0 < run_id <= MAX_ID:
        raise Http404("No such run.")  # the ORM answers "no such row" for these too
    with connection.cursor() as cursor:
        cursor.execute(_SQL, [run_id, user_id])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such run.")
    return int(row[0]), row[1], str(row[2]), row[3]


run_details = RunDetailCache()
