"""`manage.py spec_status WORKSPACE [--json]`: every spec, its status and next step.

For CI pipelines that want the SmartSpec rules without the server; needs no database.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from workflows.domain.routing import recommend
from workflows.domain.status import StatusCache
from workflows.domain.workspace import Workspace, WorkspaceError

COLUMNS = ("SPEC", "STATUS", "VERIFIED", "CHECKED", "TASKS", "NEXT", "PRIORITY", "MINUTES")


class Command(BaseCommand):
    help = "Show every spec of a SmartSpec workspace with its status and next step."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="path to the workspace directory")
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def handle(self, *args: Any, workspace: str, json: bool, **options: Any) -> None:
        try:
            ws = Workspace(workspace)
        except WorkspaceError as exc:
            self.stderr.write(f"spec_status: {exc}")
            raise SystemExit(2) from None
        rows = [(d.status, recommend(d.status)) for d in StatusCache(ws).details()]
        warnings = ws.discover_specs().warnings
        if json:
            self._json(ws, rows, warnings)
        else:
            self._table(rows, warnings)

    def _json(self, ws: Workspace, rows: list[Any], warnings: tuple[str, ...]) -> None:
        specs = [{**status.as_dict(), "next": rec.as_dict()} for status, rec in rows]
        body = {"workspace": str(ws.root), "specs": specs, "warnings": list(warnings)}
        self.stdout.write(json_dumps(body))

    def _table(self, rows: list[Any], warnings: tuple[str, ...]) -> None:
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
            )
            for s, rec in rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
        for row in table:
            self.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        for status, rec in rows:
            self.stdout.write(f"{status.spec_id}: {rec.workflow} because {rec.reason}")
        if not rows:
            self.stdout.write("No specs found under specs/.")
        for warning in warnings:
            self.stderr.write(f"warning: {warning}")


def json_dumps(body: object) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False)
