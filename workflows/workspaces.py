"""Which directories on the server may be a project's workspace."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


class WorkspaceNotAllowed(ValueError):
    pass


def allowed_roots() -> list[Path]:
    return [Path(settings.DATA_DIR).resolve(), *settings.WORKSPACE_ROOTS]


def workspace_resolve(raw: str) -> Path:
    """The real path of a workspace directory, or WorkspaceNotAllowed saying why not.

    A workspace must be an existing directory that resolves (symlinks included) inside the
    app's data directory or one of WORKSPACE_ROOTS, so nobody points a project at /etc.
    """
    if not raw or not raw.strip():
        raise WorkspaceNotAllowed("The workspace path is empty.")
    path = Path(raw.strip())
    if not path.is_absolute():
        raise WorkspaceNotAllowed(f"The workspace path {raw!r} must be absolute.")
    resolved = path.resolve()
    roots = allowed_roots()
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        listed = ", ".join(str(r) for r in roots)
        raise WorkspaceNotAllowed(
            f"The workspace {raw!r} is outside the allowed directories ({listed}); "
            "add its parent to WORKSPACE_ROOTS."
        )
    if not resolved.is_dir():
        raise WorkspaceNotAllowed(f"The workspace {raw!r} is not an existing directory.")
    return resolved


def default_workspace_dir(slug: str) -> Path:
    return Path(settings.DATA_DIR) / "workspaces" / slug
