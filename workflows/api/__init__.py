"""The REST API under /api/v1/ (PRODUCT.md, "REST API"): one NinjaAPI, a router per resource.

Every operation authenticates (bearer token or session with CSRF), is rate-limited by tier,
and answers errors as {"detail", "code"} (workflows/api/errors.py).
"""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI, Swagger

from workflows.api import approvals, errors, intents, me, projects, runs, workflows
from workflows.api.auth import api_auth
from workflows.api.throttling import TierThrottle

DESCRIPTION = """\
SmartSpec Autopilot's REST API. Authenticate with `Authorization: Bearer <token>` (create a
token on the Tokens page, /accounts/tokens/, or with `manage.py create_api_token USERNAME`)
or with the browser session (unsafe methods then need the `X-CSRFToken` header). Errors are
`{"detail": …, "code": …}`, with `errors` per field where useful. Lists take `limit` and
`offset` and answer `items` with the total `count`.
"""


class Api(NinjaAPI):
    def get_openapi_operation_id(self, operation: Any) -> str:
        # Short, stable ids (list_runs, cancel_run, …) for generated clients.
        return str(operation.view_func.__name__)

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        # POST /workflows reads its body itself (JSON or YAML): the template format's parts.
        schema["components"]["schemas"].update(workflows.TEMPLATE_SCHEMAS)
        return schema


api = Api(
    title="SmartSpec Autopilot API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=api_auth(),
    throttle=[TierThrottle()],
    # django-ninja's own Swagger UI, from its static files (ninja is an installed app), never
    # a CDN; no outside validator is asked about the schema.
    docs=Swagger(settings={"validatorUrl": None}),
)
errors.install(api)

api.add_router("/me", me.router)
api.add_router("/projects", projects.router)
api.add_router("/workflows", workflows.router)
api.add_router("/runs", runs.router)
api.add_router("/approvals", approvals.router)
api.add_router("/intents", intents.router)
