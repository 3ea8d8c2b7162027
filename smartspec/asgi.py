"""ASGI entry point: daphne serves HTTP and websockets from this one application."""

from __future__ import annotations

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartspec.settings")
django.setup(set_prefix=False)

# Imported after Django is set up: the handler loads the middleware, the routing imports models.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from smartspec.http import ThreadedASGIHandler  # noqa: E402
from workflows.websocket_urls import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ThreadedASGIHandler(),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# What is loaded by now (Django, the URL conf with the API and its schemas, the templates'
# modules) lives as long as the process. Freezing it keeps the garbage collector from
# walking all of it again on every full collection, which shows as pauses of tens of
# milliseconds under load.
get_resolver().url_patterns  # noqa: B018 - imports the URL conf now, not on the first request
gc.freeze()
