"""Let a web process exit when it is told to stop, even with requests still running.

daphne stops its event loop on SIGTERM. A request whose sync code was waiting for that loop
(Django hands a sync middleware's inner handler back to the loop with `async_to_sync`) can
never finish, and Python's exit joins every worker thread first, so the process would wait
for ever. This gives running requests a moment to finish, then exits without them: their
clients lose the connection, and an unfinished transaction rolls back.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

GRACE_SECONDS = 3.0

logger = logging.getLogger(__name__)


def exit_without_stranded_threads() -> None:
    deadline = time.monotonic() + GRACE_SECONDS
    for thread in _workers():
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    stranded = _workers()
    if not stranded:
        return
    logger.warning("stopping with %d request(s) unfinished", len(stranded))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _workers() -> list[threading.Thread]:
    me = threading.current_thread()
    return [t for t in threading.enumerate() if t is not me and not t.daemon and t.is_alive()]


def install() -> None:
    """Run before Python joins the executors' threads at exit (its hooks run last first).

    Only for a web process (smartspec.web): the exit it forces is always status 0."""
    threading._register_atexit(exit_without_stranded_threads)  # type: ignore[attr-defined]
