"""The /api/v1/docs page: Swagger UI served from our own static files, never a CDN."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.templatetags.static import static
from django.utils.html import escape
from ninja import NinjaAPI
from ninja.openapi.docs import DocsBase

# validatorUrl None: Swagger UI would otherwise send the schema to an outside validator.
SETTINGS = {"layout": "BaseLayout", "deepLinking": True, "validatorUrl": None}

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="stylesheet" href="{css}">
</head>
<body data-csrf-token="{csrf}">
  <script type="application/json" id="swagger-settings">{settings}</script>
  <div id="swagger-ui"></div>
  <script src="{bundle}"></script>
  <script src="{init}"></script>
</body>
</html>
"""


class LocalSwagger(DocsBase):
    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        settings = {**SETTINGS, "url": self.get_openapi_url(api, kwargs)}
        # "Try it out" with the browser session needs the CSRF token for unsafe methods.
        csrf = get_token(request) if request.user.is_authenticated else ""
        html = PAGE.format(
            title=escape(api.title),
            css=static("vendor/swagger-ui/swagger-ui.css"),
            bundle=static("vendor/swagger-ui/swagger-ui-bundle.js"),
            init=static("vendor/swagger-ui/init.js"),
            csrf=escape(csrf),
            # JSON inside <script>: escape "<" so no value can close the element.
            settings=json.dumps(settings).replace("<", "\\u003c"),
        )
        return HttpResponse(html)
