"""One write request at a time per web process on SQLite, whichever door it comes through.

The web process runs each request on a thread of its pool (`smartspec.http`), so 50
concurrent POSTs are up to `WEB_THREADS` threads racing for SQLite's single write lock.
SQLite's busy handler makes the losers sleep and retry with growing pauses, which gives a
long, unfair tail (seconds) and, past the busy timeout, "database is locked". Queueing the
requests that change things (POST, PUT, PATCH, DELETE: the API, the pages' forms, the
approval links in emails, the admin) on a lock in the process instead wakes the next
writer as soon as the lock is free. Reads never wait for it. PostgreSQL takes concurrent
writers itself, so nothing is serialised there. Workers in other processes still meet
SQLite's own lock, as before.

The lock is held while the view runs and its answer is made, not while a streamed answer
is sent (that happens after the middleware has returned). A request that holds it for
long (publishing a run pushes to a remote) makes the next writer wait at most
`WAIT_SECONDS`; that one then goes on without it and meets SQLite's busy handler, as
every write did before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WAIT_SECONDS = 5.0

write_lock = threading.Lock()


class OneWriterMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method not in WRITES or not settings.USING_SQLITE:
            return self.get_response(request)
        taken = write_lock.acquire(timeout=WAIT_SECONDS)
        try:
            return self.get_response(request)
        finally:
            if taken:
                write_lock.release()
