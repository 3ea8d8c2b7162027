"""One API write at a time per process on SQLite.

daphne runs every request's sync code in a thread of its own, so 50 concurrent POSTs are
50 threads racing for SQLite's single write lock. SQLite's busy handler makes the losers
sleep and retry with growing pauses, which gives a long, unfair tail (seconds) and, past
the busy timeout, "database is locked". Queueing the API's writes on a lock in the process
instead wakes the next writer as soon as the lock is free. PostgreSQL takes concurrent
writers itself, so nothing is serialised there. Workers in other processes still meet
SQLite's own lock, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

_lock = threading.Lock()


@contextmanager
def one_writer() -> Iterator[None]:
    if not settings.USING_SQLITE:
        yield
        return
    with _lock:
        yield
