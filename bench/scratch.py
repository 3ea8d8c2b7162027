"""Throwaway resources the benchmark scripts set up: a free port, a scratch database; and
the line that says what machine the figures come from."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit


def machine_with_git() -> str:
    """Python's and git's versions, the CPUs and the load now: printed before the figures."""
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    return f"Python {platform.python_version()}, {git}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def throwaway_postgres(url: str, prefix: str) -> Iterator[str]:
    """A new database `<prefix>_<random>` on the server of `url`, dropped afterwards;
    yields its URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
