"""Each pytest-xdist worker as a separate install of the app: its own data directory and,
with Redis, its own Redis database.

Loaded with `-p tests.worker_installs` (pyproject's addopts) so that it runs before
pytest-django reads the settings. The workers' test databases need nothing here:
pytest-django gives each worker its own (`_gw0`, `_gw1`, ...). What the settings derive
from SMARTSPEC_DATA_DIR (the SQLite queue database, the file caches of pages and rate
limits, the secret key, the server logs) and what lives in Redis (the queue, the channel
layer, the caches) would otherwise be shared, and one worker's test that clears its rate
counters (a FLUSHDB on Redis) would empty the other worker's queue.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest


def worker_redis_url(url: str, worker: int) -> str:
    """The Redis URL of worker `worker`: the given database number plus the worker's."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base + worker}"))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    name = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1", ... in a worker only
    if not name:
        return
    base = Path(os.environ.get("SMARTSPEC_DATA_DIR") or Path(__file__).resolve().parent.parent / "var")
    os.environ["SMARTSPEC_DATA_DIR"] = str(base / name)
    if os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = worker_redis_url(os.environ["REDIS_URL"], int(name.removeprefix("gw")))
