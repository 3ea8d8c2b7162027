"""Let a web process exit when it is told to stop, even with requests still running.

daphne stops its event loop on SIGTERM, and Python's exit joins every worker thread first.
Idle request threads (smartspec.http) are told to end at once; a request still running
gets a moment to finish (one waiting on the stopped loop never would), then the process
exits without it: its client loses the connection, and an unfinished transaction rolls
back.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from concurrent.futures import Executor

GRACE_SECONDS = 3.0

logger = logging.getLogger(__name__)
_executors: list[Executor] = []


def end_with_process(executor: Executor) -> None:
    """The executor's idle threads end as soon as the process is exiting."""
    _executors.append(executor)


def exit_without_stranded_threads() -> None:
    for executor in _executors:
        executor.shutdown(wait=False, cancel_futures=True)
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

    Only for a web process (smartspec.web): the exit it forces is always status 0.
    `threading._register_atexit` is private (no public hook runs before the join);
    tests/test_web_process.py fails if a Python upgrade removes it."""
    threading._register_atexit(exit_without_stranded_threads)  # type: ignore[attr-defined]
