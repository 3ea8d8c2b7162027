"""The container health probe: `python -m workflows.observability.probe [web|worker]`.

One image runs either daphne or `manage.py qcluster`, so one HEALTHCHECK must suit both.
Without an argument the probe looks at the container's main process (PID 1) to tell
which. For the web it asks /healthz on loopback with the standard library only (no Django
start-up every 30 s), sending a Host the app allows and the proxy's X-Forwarded-Proto, so
ALLOWED_HOSTS and SECURE_SSL_REDIRECT behind a proxy do not turn a live process into a
failed probe. For a worker it checks that a cluster on this host reported in recently.
Exit status 0 means healthy, 1 unhealthy.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys
from pathlib import Path

TIMEOUT_SECONDS = 4.0


def probe_host() -> str:
    """The first concrete name in ALLOWED_HOSTS ('.example.com' → 'example.com')."""
    for entry in os.environ.get("ALLOWED_HOSTS", "").split(","):
        name = entry.strip().lstrip(".")
        if name and name != "*":
            return name
    return "localhost"


def probe_web(port: int) -> tuple[bool, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", "/healthz", headers={"Host": probe_host(), "X-Forwarded-Proto": "https"})
        status = connection.getresponse().status
    except OSError as exc:
        return False, f"no answer on port {port}: {exc}"
    finally:
        connection.close()
    return status == 200, f"/healthz answered {status}"


def probe_worker() -> tuple[bool, str]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartspec.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    django.setup()

    from workflows.models import WorkerCluster

    host = socket.gethostname()
    alive = WorkerCluster.objects.alive().filter(host=host).exists()
    return alive, f"a cluster on {host} {'reported in' if alive else 'did not report in'}"


def main_process_role() -> str:
    try:
        command = Path("/proc/1/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "web"
    return "worker" if b"qcluster" in command else "web"


def main(argv: list[str]) -> int:
    role = argv[0] if argv else main_process_role()
    if role not in ("web", "worker"):
        print(f"usage: python -m workflows.observability.probe [web|worker] (not {role!r})")
        return 2
    port = int(os.environ.get("PORT", "8000"))
    healthy, detail = probe_web(port) if role == "web" else probe_worker()
    print(f"{role}: {'healthy' if healthy else 'unhealthy'}: {detail}")
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
