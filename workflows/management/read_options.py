"""How `spec_status` and `verify_tasks` read a workspace: the same settings a project has
(workflows.domain.spec_formats.ReadOptions), as command-line options.

A bad value is refused before anything is read, with one line that says why (the
commands print it and exit with status 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workflows.domain.layouts import folder_setting_problem
from workflows.domain.spec_formats import AUTO, FORMAT_CHOICES, ReadOptions
from workflows.domain.workspace import ScopeError, Workspace

FORMATS = "{" + ",".join(FORMAT_CHOICES) + "}"


class BadReadOption(ValueError):
    pass


def add_read_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("how the workspace is read")
    group.add_argument(
        "--format",
        default=AUTO,
        metavar=FORMATS,
        help="the spec format: smartspec, spec-kit, kiro, openspec, or auto to detect it (default)",
    )
    group.add_argument(
        "--specs-root",
        metavar="PATH",
        default=None,
        help="the folder that holds the specs, relative to the workspace (or an absolute path "
        "inside it); default: the format's own (specs, .kiro/specs, openspec)",
    )
    group.add_argument(
        "--implicit-evidence",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="count a task without hooks that names an existing file as evidence "
        "(default: on for spec-kit, Kiro and OpenSpec, off for SmartSpec)",
    )
    group.add_argument(
        "--source-root",
        metavar="PATH",
        action="append",
        default=[],
        dest="source_roots",
        help="a folder, relative to the workspace, where file paths named in tasks are also "
        "looked for; repeat it for several",
    )
    group.add_argument(
        "--positional-ids",
        action="store_true",
        help="give checkbox items without a task id a stable id from their position",
    )


def open_workspace(path: str, options: dict[str, Any]) -> Workspace:
    """The workspace read with the command's options; WorkspaceError for a missing workspace,
    BadReadOption for an option that cannot be used."""
    plain = Workspace(path)
    spec_format = options.get("format") or AUTO
    if spec_format not in FORMAT_CHOICES:
        raise BadReadOption(f"unknown format {spec_format!r} (choose from: {', '.join(FORMAT_CHOICES)})")
    specs_root = options.get("specs_root")
    read = ReadOptions(
        format=spec_format,
        specs_root=_folder(plain, specs_root, "--specs-root") if specs_root is not None else None,
        implicit_evidence=options.get("implicit_evidence"),
        source_roots=tuple(_folder(plain, r, "--source-root") for r in options.get("source_roots") or ()),
        positional_ids=bool(options.get("positional_ids")),
    )
    return Workspace(plain.root, max_file_bytes=plain.max_file_bytes, options=read)


def _folder(workspace: Workspace, value: str, option: str) -> str:
    """A folder of the workspace as a workspace-relative path."""
    rel = value
    if Path(value).is_absolute():
        try:
            rel = Path(value).resolve().relative_to(workspace.root).as_posix()
        except ValueError:
            raise BadReadOption(f"{option} {value}: outside the workspace {workspace.root}") from None
    rel = rel.strip("/") or "."
    if problem := folder_setting_problem(rel):
        raise BadReadOption(f"{option} {value}: {problem}")
    try:
        workspace.resolve_text(rel)
    except ScopeError as exc:
        raise BadReadOption(f"{option} {value}: {exc.reason}") from None
    if not workspace.is_dir(rel):
        raise BadReadOption(f"{option} {value}: no such folder in the workspace {workspace.root}")
    return rel
