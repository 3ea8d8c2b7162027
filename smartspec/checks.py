"""System checks for rules that span several settings (`manage.py check`, and every
command that starts the app). A setting alone is checked where it is read (envint etc.);
these catch combinations that are each valid and together wrong."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@register(Tags.security)
def rate_limits_are_shared(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Rate-limit counters in a per-process cache would let N web processes allow N times
    every limit (and lose them on restart)."""
    backend = settings.CACHES.get(settings.RATELIMIT_USE_CACHE, {}).get("BACKEND", "")
    if settings.RATELIMIT_ENABLE and backend in PER_PROCESS_CACHES and settings.WEB_PROCESSES > 1:
        return [
            Error(
                f"The rate-limit cache {settings.RATELIMIT_USE_CACHE!r} uses {backend}, which each of "
                f"the {settings.WEB_PROCESSES} web processes keeps apart: every limit would be "
                f"{settings.WEB_PROCESSES} times looser.",
                hint="Use a file cache or Redis (REDIS_URL) for the 'ratelimit' cache.",
                id="smartspec.E001",
            )
        ]
    return []


@register()
def the_engine_timings_fit(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    """A worker renews its lease every third of STEP_LEASE_SECONDS (at least each second) and
    the supervisor looks every SUPERVISOR_INTERVAL_SECONDS: the timings must leave room."""
    found: list[Error | Warning] = []
    lease, supervise = settings.STEP_LEASE_SECONDS, settings.SUPERVISOR_INTERVAL_SECONDS
    if lease < 3:
        found.append(
            Error(
                f"STEP_LEASE_SECONDS={lease} leaves a worker no time to renew its lease (every "
                "third of it, at least each second): running steps would be taken from it.",
                hint="Use 3 seconds or more (30 is the default).",
                id="smartspec.E002",
            )
        )
    if supervise >= lease:
        found.append(
            Warning(
                f"SUPERVISOR_INTERVAL_SECONDS={supervise} is not below STEP_LEASE_SECONDS={lease}: "
                "a step whose worker died waits up to another interval before it is retried.",
                id="smartspec.W001",
            )
        )
    if lease > settings.STEP_RESEND_AFTER_SECONDS:
        found.append(
            Warning(
                f"STEP_RESEND_AFTER_SECONDS={settings.STEP_RESEND_AFTER_SECONDS} is below "
                f"STEP_LEASE_SECONDS={lease}: queue messages are re-sent before a lease could expire.",
                id="smartspec.W002",
            )
        )
    return found
