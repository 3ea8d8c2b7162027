"""Which directories on the server may be a project's workspace, checked on every use.

A workspace is a directory strictly below a workspace root (`<data dir>/workspaces` or one
of WORKSPACE_ROOTS). It is never the data directory, anything holding it, or anything
inside it but its `workspaces/` folder (the databases, the cache and the secret key live
there), never the app's own code, and never a directory another project uses, inside one,
or above one. Saving a project stores the real path; every later use (pages, API, engine,
executors) checks it again, so a workspace swapped for a symlink, or moved somewhere it
may not be, is refused everywhere before anything reads or writes it.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings

from workflows.domain import git_remotes
from workflows.domain.texts import Text
from workflows.domain.workspace import Workspace
from workflows.models import Project


class WorkspaceNotAllowed(ValueError):
    """Why a directory may not be used: its message is a sentence (workflows.domain.texts.Text),
    so a page can show it in the reader's language; callers pass `exc.args[0]` on."""


def workspace_roots() -> list[Path]:
    return [Path(settings.DATA_DIR).resolve() / "workspaces", *settings.WORKSPACE_ROOTS]


def default_workspace_dir(slug: str) -> Path:
    return Path(settings.DATA_DIR) / "workspaces" / slug


def _protected() -> list[tuple[Path, Text]]:
    """Files and folders of the app that no workspace may hold, be, or lie inside."""
    found = [(Path(settings.BASE_DIR).resolve(), Text("the app's own code"))]
    for alias in settings.DATABASES.values():
        if alias["ENGINE"].endswith("sqlite3"):
            found.append((Path(str(alias["NAME"])).resolve(), Text("a database of the app")))
    for cache in settings.CACHES.values():
        if cache["BACKEND"].endswith("FileBasedCache"):
            found.append((Path(cache["LOCATION"]).resolve(), Text("the app's cache")))
    return found


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def _refusal(path: Path, raw: str) -> Text | None:
    """Why the real path `path` may not be a workspace, or None."""
    data_dir = Path(settings.DATA_DIR).resolve()
    roots = workspace_roots()
    if not any(path != root and path.is_relative_to(root) for root in roots):
        listed = ", ".join(str(r) for r in roots)
        return Text(
            "The workspace {raw!r} is not a directory below the allowed roots ({listed}); "
            "add its parent to WORKSPACE_ROOTS.",
            raw=raw,
            listed=listed,
        )
    if data_dir.is_relative_to(path) or (
        path.is_relative_to(data_dir) and not path.is_relative_to(data_dir / "workspaces")
    ):
        return Text(
            "The workspace {raw!r} is the app's data directory or overlaps it (keys, databases).", raw=raw
        )
    in_own_folder = path.is_relative_to(data_dir / "workspaces")  # may lie inside the app's code
    for protected, what in _protected():
        if protected.is_relative_to(path) or (path.is_relative_to(protected) and not in_own_folder):
            return Text(
                "The workspace {raw!r} overlaps {what} ({protected}).",
                raw=raw,
                what=what,
                protected=str(protected),
            )
    return None


def _real_path(raw: str) -> Path:
    if not raw or not raw.strip():
        raise WorkspaceNotAllowed(Text("The workspace path is empty."))
    if "\x00" in raw:
        raise WorkspaceNotAllowed(Text("The workspace path contains a NUL character."))
    path = Path(raw.strip())
    if not path.is_absolute():
        raise WorkspaceNotAllowed(Text("The workspace path {raw!r} must be absolute.", raw=raw))
    return Path(os.path.realpath(path))


def _check_others(path: Path, raw: str, *, exclude_pk: int | None) -> None:
    others = Project.objects.all() if exclude_pk is None else Project.objects.exclude(pk=exclude_pk)
    for slug, other in others.values_list("slug", "workspace"):
        if "\x00" not in other and _overlaps(path, Path(other)):
            raise WorkspaceNotAllowed(
                Text(
                    "The workspace {raw!r} overlaps the workspace of project {slug!r}; "
                    "each project needs a directory of its own.",
                    raw=raw,
                    slug=slug,
                )
            )


def workspace_resolve(raw: str, *, project_pk: int | None = None) -> Path:
    """The real path a project may store as its workspace, or WorkspaceNotAllowed saying why.

    `project_pk` names the project being saved, so its own current workspace is no clash.
    """
    path = _real_path(raw)
    problem = _refusal(path, raw)
    if problem:
        raise WorkspaceNotAllowed(problem)
    if not path.is_dir():
        raise WorkspaceNotAllowed(Text("The workspace {raw!r} is not an existing directory.", raw=raw))
    _check_others(path, raw, exclude_pk=project_pk)
    return path


def project_workspace_dir(project: Project) -> Path:
    """The project's workspace, checked again now: every door calls this before it reads or
    writes there. A stored path that no longer resolves to itself was swapped for a
    symlink (or one of its parents was) and is refused."""
    path = workspace_resolve(project.workspace, project_pk=project.pk)
    if str(path) != os.path.normpath(project.workspace.strip()):
        raise WorkspaceNotAllowed(
            Text(
                "The workspace {raw!r} now leads elsewhere (a symlink was put in its place); "
                "fix it on the server or point the project at the real directory.",
                raw=project.workspace,
            )
        )
    return path


def project_workspace(project: Project) -> Workspace:
    """The project's workspace checked as above, read the way the project says (its spec
    format and evidence settings): what the pages, the API and the engine all read."""
    return Workspace(project_workspace_dir(project), options=project.read_options())


def run_worktree_checked(path: Path) -> Path:
    """A run's git worktree (workflows.engine.git_runs), checked on every use like a
    workspace: a real directory strictly below `<data dir>/worktrees`, no symlink on the way.
    Only a run's steps work there; a project's workspace never may (see _refusal)."""
    root = Path(settings.DATA_DIR).resolve() / "worktrees"
    real = Path(os.path.realpath(path))
    if real != Path(os.path.normpath(path)) or real == root or not real.is_relative_to(root):
        raise WorkspaceNotAllowed(
            Text(
                "The run's worktree {path!r} is not a directory below {root}.", path=str(path), root=str(root)
            )
        )
    if not real.is_dir():
        raise WorkspaceNotAllowed(
            Text("The run's worktree {path!r} is not an existing directory.", path=str(path))
        )
    return real


def remote_path_checked(raw: str) -> Path:
    """A git remote given as a path on the server (a bare repository), checked like a
    workspace when it is saved and again before every push: a directory strictly below a
    workspace root, never the app's data or code, and never a project's workspace (a team
    must not push into another team's repository)."""
    path = _real_path(raw)
    if _refusal(path, raw) is not None:
        listed = ", ".join(str(r) for r in workspace_roots())
        raise WorkspaceNotAllowed(
            Text(
                "The remote {raw!r} is not a directory the app may push to: it must lie below "
                "the workspace roots ({listed}), outside the app's data and code.",
                raw=raw,
                listed=listed,
            )
        )
    for slug, other in Project.objects.values_list("slug", "workspace"):
        if "\x00" not in other and _overlaps(path, Path(other)):
            raise WorkspaceNotAllowed(
                Text("The remote {raw!r} overlaps the workspace of project {slug!r}.", raw=raw, slug=slug)
            )
    if not path.is_dir():
        raise WorkspaceNotAllowed(
            Text("The remote {raw!r} is not an existing directory (a bare repository).", raw=raw)
        )
    return path


def remote_refusal(value: str) -> Text | None:
    """Why the app may not push to a git remote given as a path on the server
    (remote_path_checked), or None. Checked when a project's settings are saved (the service
    and the forms), after the model's validators; a URL, or a value those refuse, is theirs."""
    if not value or not git_remotes.is_local_path(value) or git_remotes.remote_problem(value):
        return None
    try:
        remote_path_checked(value)
    except WorkspaceNotAllowed as exc:
        return exc.args[0]
    return None
