"""A loopback HTTP server standing in for an OpenAI-compatible chat endpoint: it streams a
fixed answer as server-sent events, then (when asked with stream_options.include_usage) a
last chunk with no choices and the usage, as OpenAI's API does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback_http import served


@dataclass
class ChatServer:
    url: str
    answer: str = "# Notes\n\nDone.\n"
    usage: dict[str, Any] | None = field(
        default_factory=lambda: {"prompt_tokens": 1500, "completion_tokens": 400, "total_tokens": 1900}
    )
    requests: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def chat_server() -> Iterator[ChatServer]:
    state = ChatServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append({"path": self.path, "body": body})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for line in state.answer.splitlines(keepends=True):
                self._send({"choices": [{"index": 0, "delta": {"content": line}}]})
            wants_usage = (body.get("stream_options") or {}).get("include_usage")
            if wants_usage and state.usage is not None:
                self._send({"choices": [], "usage": state.usage})
            self.wfile.write(b"data: [DONE]\n\n")

        def _send(self, chunk: dict[str, Any]) -> None:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with served(Handler) as url:
        state.url = f"{url}/v1"
        yield state
