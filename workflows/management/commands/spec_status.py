"""`manage.py spec_status WORKSPACE [--json] [read options]`: every spec, its status and next step.

For CI pipelines that want the SmartSpec rules without the server; needs no database.
Besides each spec it shows the format the spec was read in and how many warnings reading
it gave (tasks.md parse issues and skipped files; `-v 2` lists them), and after the table
the folders that were set aside rather than read (archived specs, OpenSpec capabilities).
The read options (`--format`, `--specs-root`, `--implicit-evidence`, `--source-root`,
`--positional-ids`) are a project's settings; see workflows/management/read_options.py.

Exit status 0; 2 for a missing workspace or a read option that cannot be used.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser

from workflows.domain.layouts import discover_specs
from workflows.domain.routing import Recommendation, recommend
from workflows.domain.status import SpecStatus, StatusCache
from workflows.domain.workspace import SpecIndex, Workspace, WorkspaceError
from workflows.management.read_options import BadReadOption, add_read_options, open_workspace

COLUMNS = (
    "SPEC", "STATUS", "VERIFIED", "CHECKED", "TASKS", "NEXT", "PRIORITY", "MINUTES", "WARNINGS", "FORMAT",
)  # fmt: skip
Row = tuple[SpecStatus, Recommendation]


class Command(BaseCommand):
    help = (
        "Show every spec of a workspace with its status and next step, the format it was read "
        "in, its warnings, and the folders set aside (archived). Exit status 2 for a missing "
        "workspace or a bad read option."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="path to the workspace directory")
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
        add_read_options(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            ws = open_workspace(options["workspace"], options)
        except (WorkspaceError, BadReadOption) as exc:
            self._fail(str(exc))
        rows = [(d.status, recommend(d.status)) for d in StatusCache(ws).details()]
        index = discover_specs(ws)
        if options["json"]:
            self._json(ws, rows, index)
        else:
            self._table(rows, index, verbose=options["verbosity"] >= 2)

    def _fail(self, message: str) -> NoReturn:
        self.stderr.write(f"spec_status: {message}")
        raise SystemExit(2)

    def _json(self, ws: Workspace, rows: list[Row], index: SpecIndex) -> None:
        specs = [
            {**status.as_dict(), "warning_count": warning_count(status), "next": rec.as_dict()}
            for status, rec in rows
        ]
        body = {
            "workspace": str(ws.root),
            "format": str(index.format),
            "specs_root": index.root,
            "specs": specs,
            "skipped": [{"path": f.rel_dir, "reason": f.reason} for f in index.set_aside],
            "warnings": list(index.warnings),
        }
        self.stdout.write(json_dumps(body))

    def _table(self, rows: list[Row], index: SpecIndex, *, verbose: bool) -> None:
        table = [COLUMNS] + [
            (
                s.spec_id,
                str(s.implementation_status),
                str(s.tasks_verified),
                str(s.tasks_checked),
                str(s.tasks_total),
                rec.workflow,
                str(rec.priority),
                str(rec.estimate_minutes),
                str(warning_count(s)),
                s.format,
            )
            for s, rec in rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
        for row in table:
            self.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        for status, rec in rows:
            self.stdout.write(f"{status.spec_id}: {rec.workflow} because {rec.reason}")
            if verbose:
                for issue in status.parse_issues:
                    self.stdout.write(f"  {status.path}/tasks.md {issue}")
                for warning in status.warnings:
                    self.stdout.write(f"  warning: {warning}")
        if not rows:
            self.stdout.write(f"No specs found under {index.root}/.")
        if index.set_aside:
            self.stdout.write("Skipped folders (not read as specs):")
            for folder in index.set_aside:
                self.stdout.write(f"  {folder.rel_dir} ({folder.reason})")
        for warning in index.warnings:
            self.stderr.write(f"warning: {warning}")


def warning_count(status: SpecStatus) -> int:
    """What reading the spec warned about: tasks.md parse issues and skipped files."""
    return len(status.parse_issues) + len(status.warnings)


def json_dumps(body: object) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False)
