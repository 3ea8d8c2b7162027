"""Rate-limit tiers for every API operation: reads relaxed, writes moderate.

The counting lives in accounts.ratelimits (limits from settings.RATELIMITS, counters in the
"ratelimit" cache, staff service tokens exempt). ninja runs this after authentication, so
counters are per user; one group for the whole API makes a tier a per-user budget.
"""

from __future__ import annotations

from contextvars import ContextVar

from django.http import HttpRequest
from ninja.throttling import BaseThrottle

from accounts import ratelimits
from workflows.api.auth import SAFE_METHODS

GROUP = "api"

# ninja asks allow_request() and then wait() on the same shared object; the seconds to
# wait belong to one request, so they go through a context variable, not an attribute.
_retry_after: ContextVar[int | None] = ContextVar("api_retry_after", default=None)


def tier_of(request: HttpRequest) -> str:
    return "relaxed" if request.method in SAFE_METHODS else "moderate"


class TierThrottle(BaseThrottle):
    def allow_request(self, request: HttpRequest) -> bool:
        retry_after = ratelimits.check(request, tier_of(request), GROUP)
        _retry_after.set(retry_after)
        return retry_after is None

    def wait(self) -> float | None:
        retry_after = _retry_after.get()
        return float(retry_after) if retry_after is not None else None
