"""Websocket routes (served by daphne next to HTTP; see smartspec/asgi.py)."""

from __future__ import annotations

from django.urls import path

from workflows.consumers import RunEventsConsumer

websocket_urlpatterns = [
    path("ws/runs/<int:run_id>/", RunEventsConsumer.as_asgi()),
]
