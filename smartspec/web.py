"""Run daphne for this app: `python -m smartspec.web [daphne's options] smartspec.asgi:application`.

daphne's own command line, plus a stop that does not wait for ever on requests the stop
stranded (smartspec.shutdown). `manage.py serve` and the container image start web
processes this way.

daphne's plain access log is off (verbosity 0) unless asked for: every request already
writes one structured line with its request id, user, status and time
(`workflows.observability.logging`), and a second line per request costs CPU for nothing.
"""

from __future__ import annotations

import os
import sys

from daphne.cli import CommandLineInterface

from smartspec import shutdown


def main() -> None:
    # Request threads live as long as the process, so each keeps its database connection.
    os.environ.setdefault("DB_PERSISTENT", "1")
    shutdown.install()
    CommandLineInterface().run(["--verbosity", "0", *sys.argv[1:]])


if __name__ == "__main__":
    main()
