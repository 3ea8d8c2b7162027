"""`manage.py verify_tasks WORKSPACE SPEC_ID [--json] [--write-report] [--only-hooked] [read options]`.

Exit status 0 when every checked task is verified, 1 when a task is checked but not
verified, 2 for a missing workspace, an unknown spec id or a read option that cannot be
used. With `--only-hooked` only tasks that have at least one evidence hook can fail the
run: a checked task without hooks is still reported, but does not fail it (for projects
adding hooks to an existing checklist a bit at a time). The read options are those of
`spec_status` (workflows/management/read_options.py). Needs no database.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser

from workflows.domain.layouts import discover_specs
from workflows.domain.reports import check_name, write_verification_report
from workflows.domain.verification import VerificationReport, verify_spec
from workflows.domain.workspace import UnknownSpec, Workspace, WorkspaceError
from workflows.management.read_options import BadReadOption, add_read_options, open_workspace


class Command(BaseCommand):
    help = (
        "Verify a spec's tasks against the workspace files and print the report. Exit status 1 "
        "when a checked task is not verified (with --only-hooked: a checked task that has a hook), "
        "2 for a missing workspace, an unknown spec or a bad read option."
    )
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
        parser.add_argument(
            "--only-hooked",
            action="store_true",
            help="exit 1 only for a checked, unverified task that has at least one evidence hook; "
            "checked tasks without hooks are reported but do not fail",
        )
        add_read_options(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            workspace = open_workspace(options["workspace"], options)
        except (WorkspaceError, BadReadOption) as exc:
            self._fail(str(exc))
        report = self._verify(workspace, options["spec_id"], options["run_id"])
        written = None
        if options["write_report"]:
            written = write_verification_report(workspace, report).rel_dir
        only_hooked = options["only_hooked"]
        failing = failing_tasks(report, only_hooked=only_hooked)
        if options["json"]:
            body = {
                **report.as_dict(),
                "ok": not failing,
                "only_hooked": only_hooked,
                "failing": list(failing),
                "report_dir": written,
            }
            self.stdout.write(json.dumps(body, indent=2, ensure_ascii=False))
        else:
            self._text(report, written)
            exempt = [t for t in report.checked_not_verified if t not in failing]
            if exempt:
                self.stdout.write(f"Not failing, no evidence hook (--only-hooked): {', '.join(exempt)}")
        if failing:
            raise SystemExit(1)

    def _verify(self, workspace: Workspace, spec_id: str, run_id: str | None) -> VerificationReport:
        try:
            if run_id is not None:
                check_name(run_id)
            return verify_spec(workspace, spec_id, run_id=run_id)
        except UnknownSpec:
            known = ", ".join(discover_specs(workspace).ids()) or "none"
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


def failing_tasks(report: VerificationReport, *, only_hooked: bool) -> tuple[str, ...]:
    """The checked but unverified tasks that fail the run: all of them, or with only_hooked
    those with at least one evidence hook written in tasks.md (implicit evidence, a path
    the title names, is not a hook the team wrote)."""
    if not only_hooked:
        return report.checked_not_verified
    written = {t.id for t in report.tasks if any(not r.hook.implicit for r in t.hooks)}
    return tuple(i for i in report.checked_not_verified if i in written)
