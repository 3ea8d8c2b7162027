"""Run daphne for this app: `python -m smartspec.web [daphne's options] smartspec.asgi:application`.

daphne's own command line, plus a stop that does not wait for ever on requests the stop
stranded (smartspec.shutdown), plus a status line for requests too large to read
(`answer_oversized_requests`). `manage.py serve` and the container image start web
processes this way.

daphne's plain access log is off (verbosity 0) unless asked for: every request already
writes one structured line with its request id, user, status and time
(`workflows.observability.logging`), and a second line per request costs CPU for nothing.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from daphne.cli import CommandLineInterface
from twisted.web.http import HTTPChannel

from smartspec import shutdown

OVERSIZED = {
    414: ("URI Too Long", "uri_too_long", "The request line is too long."),
    431: ("Request Header Fields Too Large", "headers_too_large", "The request headers are too large."),
}


def oversized_answer(status: int) -> bytes:
    """A whole response in the API's error shape; the connection closes after it."""
    reason, code, detail = OVERSIZED[status]
    body = json.dumps({"detail": detail, "code": code}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def answer_oversized_requests() -> None:
    """Answer 414 / 431 where twisted (under daphne) drops the connection or says a bare 400.

    Twisted closes the connection without a word when the request line or one header is
    longer than `LineReceiver.MAX_LENGTH` (16 KiB), and answers a bare 400 when the request
    line and headers together pass `HTTPChannel.totalHeadersSize` (16 KiB); a client cannot
    tell what went wrong. Twisted has no public hook for either, so this wraps two methods
    of HTTPChannel (`lineReceived`, `lineLengthExceeded`) and reads two private attributes:
    `_HTTPChannel__first_line` (still reading the request line?) and `_receivedHeaderSize`.
    tests/security/test_hostile_input.py fails loudly if twisted renames them.
    """
    line_received = HTTPChannel.lineReceived

    def lineReceived(self: Any, line: bytes) -> Any:  # noqa: N802 - twisted's name
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            return _refuse(self)
        return line_received(self, line)

    def lineLengthExceeded(self: Any, line: bytes) -> Any:  # noqa: N802 - twisted's name
        return _refuse(self)

    HTTPChannel.lineReceived = lineReceived  # type: ignore[method-assign]
    HTTPChannel.lineLengthExceeded = lineLengthExceeded  # type: ignore[method-assign]


def _refuse(channel: Any) -> None:
    status = 414 if channel._HTTPChannel__first_line else 431
    channel.transport.write(oversized_answer(status))
    channel.loseConnection()
    channel.dataReceived = channel.lineReceived = lambda *args: None  # read nothing more


def main() -> None:
    # Request threads live as long as the process, so each keeps its database connection.
    os.environ.setdefault("DB_PERSISTENT", "1")
    shutdown.install()
    answer_oversized_requests()
    CommandLineInterface().run(["--verbosity", "0", *sys.argv[1:]])


if __name__ == "__main__":
    main()
