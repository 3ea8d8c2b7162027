"""HTTP in the web processes: each request runs whole on one thread of a fixed pool.

Django's own ASGI handler runs the middleware chain in async mode. With sync middleware
(Django's and ours) and sync views, a request then crosses between the event loop and a
thread about six times, on a thread made for that request alone, and opens a database
connection on it. Under load the crossings cost more CPU than the request.

`ThreadedASGIHandler` does what a threaded WSGI server does: the event loop reads the
body, one thread of a fixed pool runs the whole request (signals, middleware, view) as
Django's sync handler runs it, and the loop sends the answer. The pool's threads live as
long as the process, so each keeps its database connection from one request to the next
(`DB_PERSISTENT`). Websockets never come here: Channels hands them to their consumers.

Kept, not replaced by Django's handler, for the figures in docs/benchmarks.md ("One thread
hop per request": /healthz 480 → 1,720 req/s per process). It reuses parts of Django's
ASGIHandler and the private `response._handler_class`; tests/test_web_process.py fails if
a Django upgrade changes them.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

from smartspec import shutdown


class ThreadedASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.executor = ThreadPoolExecutor(settings.WEB_THREADS, thread_name_prefix="request")
        shutdown.end_with_process(self.executor)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self.executor, self.respond, scope, body_file)
        finally:
            body_file.close()
        try:
            await self.send_response(response, send)
        finally:
            if response.streaming:
                await loop.run_in_executor(self.executor, response.close)

    def respond(self, scope: dict[str, Any], body_file: Any) -> HttpResponseBase:
        """The request from start to end, on a pool thread. A whole answer is closed here,
        which sends request_finished, so the thread tidies its own database connection; a
        streamed one is closed once it has been sent."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        created = self.create_request(scope, body_file)  # (request, None) or (None, an error)
        response = created[1] if created[0] is None else self.get_response(created[0])
        response._handler_class = self.__class__  # type: ignore[attr-defined]  # as Django's handle() does
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size  # daphne cuts the body into packets itself
        if not response.streaming:
            response.close()
        return response
