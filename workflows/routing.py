"""Websocket routes (served by daphne next to HTTP; see smartspec/asgi.py)."""

from __future__ import annotations

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
