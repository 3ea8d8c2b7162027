"""`manage.py verify_tasks WORKSPACE SPEC_ID [--json] [--write-report]`.

Exit status 0 when every checked task is verified, 1 when a task is checked but not
verified, 2 for a missing workspace or an unknown spec id. Needs no database.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser

from workflows.domain.reports import check_name, write_verification_report
from workflows.domain.verification import VerificationReport, verify_spec
from workflows.domain.workspace import UnknownSpec, Workspace, WorkspaceError


class Command(BaseCommand):
    help = "Verify a spec's tasks against the workspace files and print the report."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="path to the workspace directory")
        parser.add_argument("spec_id", help="the spec to verify, e.g. spec-core-001-auth")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument(
            "--write-report",
            action="store_true",
            help="also write summary.json and report.md under .spec/reports/verify-tasks-progress/",
        )
        parser.add_argument("--run-id", default=None, help="run id of the report (default: now)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            workspace = Workspace(options["workspace"])
        except WorkspaceError as exc:
            self._fail(str(exc))
        report = self._verify(workspace, options["spec_id"], options["run_id"])
        written = None
        if options["write_report"]:
            written = write_verification_report(workspace, report).rel_dir
        if options["json"]:
            body = {**report.as_dict(), "report_dir": written}
            self.stdout.write(json.dumps(body, indent=2, ensure_ascii=False))
        else:
            self._text(report, written)
        if report.checked_not_verified:
            raise SystemExit(1)

    def _verify(self, workspace: Workspace, spec_id: str, run_id: str | None) -> VerificationReport:
        try:
            if run_id is not None:
                check_name(run_id)
            return verify_spec(workspace, spec_id, run_id=run_id)
        except UnknownSpec:
            known = ", ".join(workspace.discover_specs().ids()) or "none"
            self._fail(f"unknown spec id {spec_id!r} in {workspace.root} (known: {known})")
        except ValueError as exc:  # a run id that is not one path segment
            self._fail(str(exc))

    def _fail(self, message: str) -> NoReturn:
        self.stderr.write(f"verify_tasks: {message}")
        raise SystemExit(2)

    def _text(self, report: VerificationReport, written: str | None) -> None:
        self.stdout.write(
            f"{report.spec_id}: {report.total} tasks, {report.checked} checked, {report.verified} verified"
        )
        width = max((len(t.id) for t in report.tasks), default=0)
        for task in report.tasks:
            box = "[x]" if task.checked else "[ ]"
            why = task.reasons[0] if task.reasons else ""
            self.stdout.write(f"  {box} {task.id.ljust(width)}  {task.status:<16}  {why}")
        if report.checked_not_verified:
            ids = ", ".join(report.checked_not_verified)
            self.stdout.write(f"Checked but not verified: {ids}")
        if report.verified_not_checked:
            self.stdout.write(f"Verified but not checked: {', '.join(report.verified_not_checked)}")
        for issue in report.issues:
            self.stdout.write(f"tasks.md {issue}")
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        if written:
            self.stdout.write(f"Report written to {written}/")
