"""The SmartSpec domain as the web app uses it: one status cache per workspace.

The cache (workflows.domain.status.StatusCache) recomputes a spec only when its files
changed, so pages and the API ask it freely. It lives per process; every process sees
the same files, so no cross-process invalidation is needed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from workflows.domain.layouts import discover_specs
from workflows.domain.routing import Recommendation, recommend
from workflows.domain.spec_formats import ReadOptions
from workflows.domain.status import SpecDetail, SpecStatus, StatusCache
from workflows.domain.workspace import SpecIndex, UnknownSpec, WorkspaceError
from workflows.models import ManualCheck, Project
from workflows.workspace_policy import WorkspaceNotAllowed, project_workspace

_caches: dict[tuple[str, ReadOptions], StatusCache] = {}
_lock = threading.Lock()


class SpecsUnavailable(LookupError):
    """The project's workspace cannot be used: moved, deleted, not a directory, or no longer
    where a workspace may be (workflows.workspace_policy)."""


def status_cache(project: Project) -> StatusCache:
    """The project's cache, once its workspace passed the check every door makes."""
    try:
        workspace = project_workspace(project)
    except (WorkspaceNotAllowed, WorkspaceError) as exc:
        raise SpecsUnavailable(exc.args[0] if exc.args else str(exc)) from None
    # One cache per folder and way of reading it: a changed setting starts afresh.
    key = (str(workspace.root), workspace.options)
    with _lock:
        cache = _caches.get(key)
        if cache is None:
            cache = _caches[key] = StatusCache(workspace)
        return cache


def cache_stats() -> dict[str, int]:
    """Hits and misses over every workspace cache of this process (the performance page)."""
    totals = {"hits": 0, "misses": 0, "entries": 0}
    with _lock:
        for cache in _caches.values():
            for key, value in cache.stats().items():
                totals[key] = totals.get(key, 0) + value
    return totals


@dataclass(frozen=True)
class SpecRow:
    status: SpecStatus
    next: Recommendation


def project_details(project: Project) -> list[SpecDetail]:
    """Every spec with its verification, counting the recorded manual checks."""
    return status_cache(project).details(ManualCheck.objects.by_spec(project))


def project_specs(project: Project) -> list[SpecRow]:
    return [SpecRow(d.status, recommend(d.status)) for d in project_details(project)]


def project_overview(project: Project) -> tuple[list[SpecRow], SpecIndex]:
    """Every spec with its next step, and where they were found (the format read, what was
    set aside, warnings): the workspace's folders are walked once for both."""
    cache = status_cache(project)
    index = discover_specs(cache.workspace)
    details = cache.details(ManualCheck.objects.by_spec(project), index)
    return [SpecRow(d.status, recommend(d.status)) for d in details], index


def project_spec(project: Project, spec_id: str) -> tuple[SpecDetail, Recommendation]:
    """One spec with its verification; LookupError (UnknownSpec) when there is none."""
    detail = status_cache(project).detail(spec_id, ManualCheck.objects.for_spec(project, spec_id))
    return detail, recommend(detail.status)


__all__ = [
    "SpecRow",
    "SpecsUnavailable",
    "UnknownSpec",
    "cache_stats",
    "project_details",
    "project_overview",
    "project_spec",
    "project_specs",
    "status_cache",
]
