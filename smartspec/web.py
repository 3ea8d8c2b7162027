"""Run daphne for this app: `python -m smartspec.web [daphne's options] smartspec.asgi:application`.

daphne's own command line, plus a stop that does not wait for ever on requests the stop
stranded (smartspec.shutdown). `manage.py serve` and the container image start web
processes this way.
"""

from __future__ import annotations

from daphne.cli import CommandLineInterface

from smartspec import shutdown


def main() -> None:
    shutdown.install()
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
