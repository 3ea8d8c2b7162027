"""Websocket routes (served by daphne next to HTTP; see smartspec/asgi.py)."""

from __future__ import annotations

from django.urls import path, re_path

from workflows.consumers import RunEventsConsumer, UnknownSocket

websocket_urlpatterns = [
    path("ws/runs/<int:run_id>/", RunEventsConsumer.as_asgi()),
    re_path(r"", UnknownSocket.as_asgi()),  # ws/runs/-1/ and the like: refused, not a 500
]
