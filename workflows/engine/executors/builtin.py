"""The built-in step kinds: they call the SmartSpec domain modules, nothing else."""

from __future__ import annotations

from workflows.domain.layouts import find_spec
from workflows.domain.quality_gate import run_quality_gate, write_quality_gate_report
from workflows.domain.reports import write_verification_report
from workflows.domain.routing import recommend
from workflows.domain.status import progress_of, spec_detail
from workflows.domain.sync import sync_spec_tasks, write_sync_report
from workflows.domain.texts import reason_of, text_to_data
from workflows.domain.verification import verify_spec
from workflows.domain.workspace import ScopeError, UnknownSpec, Workspace, WorkspaceError
from workflows.engine.executors.base import StepContext, StepResult
from workflows.models import ManualCheck


def noop(context: StepContext) -> StepResult:
    """Does nothing (optionally sleeps or fails): a join point, and for tests and benchmarks."""
    seconds = float(context.config.get("sleep", 0))
    if seconds and context.stop_event.wait(seconds):
        return context.interrupted()
    if context.config.get("fail"):
        return StepResult.fail(context.config.get("message") or "failed on purpose")
    return StepResult.ok(item=context.item) if context.item is not None else StepResult.ok()


def _workspace(context: StepContext) -> Workspace:
    if not context.spec_id:
        raise ValueError(f"a {context.kind} step needs the run to name a spec (spec_id)")
    return context.spec_workspace()


def _manual(context: StepContext) -> dict[str, object]:
    return dict(ManualCheck.objects.for_spec(context.project, context.spec_id))


def status(context: StepContext) -> StepResult:
    try:
        workspace = _workspace(context)
        location = find_spec(workspace, context.spec_id)
        detail = spec_detail(workspace, location, manual=_manual(context))  # type: ignore[arg-type]
        current = detail.status
    except (ValueError, UnknownSpec, WorkspaceError, ScopeError) as exc:
        if isinstance(exc, UnknownSpec):
            # A spec that does not exist yet is a status too: it needs generate_spec.
            return StepResult.ok(
                spec_id=context.spec_id,
                exists=False,
                recommendation={
                    "workflow": "generate_spec",
                    "reason": "the spec folder does not exist yet",
                    "priority": "high",
                    "estimate_minutes": 10,
                },
            )
        return StepResult.fail(reason_of(exc))
    recommendation = recommend(current)
    return StepResult.ok(
        exists=True,
        status=current.as_dict(),
        # The reason also as its template and values, so a run's outcome can quote it in the
        # reader's language (workflows.domain.texts).
        recommendation={**recommendation.as_dict(), "reason_text": text_to_data(recommendation.reason)},
        progress=progress_of(workspace, location, detail),
    )


def verify_tasks(context: StepContext) -> StepResult:
    try:
        workspace = _workspace(context)
        report = verify_spec(
            workspace,
            context.spec_id,
            run_id=str(context.run_id),
            manual=_manual(context),  # type: ignore[arg-type]
        )
    except (ValueError, UnknownSpec, WorkspaceError, ScopeError) as exc:
        return StepResult.fail(reason_of(exc))
    ref = write_verification_report(workspace, report)
    for task in report.tasks:
        context.log(f"{task.id}: {task.status} — {'; '.join(task.reasons)}")
    return StepResult.ok(
        report=ref.rel_dir,
        total=report.total,
        checked=report.checked,
        verified=report.verified,
        by_status=report.by_status(),
        statuses=report.statuses(),
        checked_not_verified=list(report.checked_not_verified),
        verified_not_checked=list(report.verified_not_checked),
    )


def sync_tasks(context: StepContext) -> StepResult:
    """Flip tasks.md checkboxes to match the verification of an earlier step (or a fresh one)."""
    try:
        workspace = _workspace(context)
        location = find_spec(workspace, context.spec_id)
        statuses = next(
            (o["statuses"] for o in context.inputs.values() if isinstance(o.get("statuses"), dict)),
            None,
        )
        source_run = str(context.run_id) if statuses is not None else None
        if statuses is None:
            report = verify_spec(workspace, location, run_id=str(context.run_id), manual=_manual(context))  # type: ignore[arg-type]
            statuses = report.statuses()
        result = sync_spec_tasks(workspace, location, statuses)
    except (ValueError, UnknownSpec, WorkspaceError, ScopeError) as exc:
        return StepResult.fail(reason_of(exc))
    for line in result.diff.splitlines():
        context.log(line)
    ref = write_sync_report(workspace, context.spec_id, str(context.run_id), result, source_run)
    return StepResult.ok(flipped=list(result.flipped), diff=result.diff, report=ref.rel_dir)


THRESHOLD_KEYS = (
    "min_completion_rate",
    "min_verified_ratio",
    "require_tests_passed",
    "min_coverage",
    "max_invalid_evidence",
)


def quality_gate(context: StepContext) -> StepResult:
    thresholds = {**context.project.quality_thresholds}
    thresholds.update({k: v for k, v in context.config.items() if k in THRESHOLD_KEYS})
    try:
        workspace = _workspace(context)
        result = run_quality_gate(
            workspace,
            context.spec_id,
            thresholds=thresholds,
            coverage_file=context.config.get("coverage_file"),
            junit_file=context.config.get("junit_file"),
            status=spec_detail(workspace, context.spec_id, manual=_manual(context)).status,  # type: ignore[arg-type]
        )
    except (ValueError, UnknownSpec, WorkspaceError, ScopeError) as exc:
        return StepResult.fail(reason_of(exc))
    ref = write_quality_gate_report(workspace, context.spec_id, str(context.run_id), result)
    for criterion in result.criteria:
        context.log(f"{'pass' if criterion.passed else 'FAIL'} {criterion.name}: {criterion.reason}")
    output = {
        "passed": result.passed,
        "report": ref.rel_dir,
        "criteria": [c.as_dict() for c in result.criteria],
    }
    if not result.passed:
        failed = ", ".join(c.name for c in result.failed)
        return StepResult.fail(f"the quality gate failed: {failed}", **output)
    return StepResult.ok(**output)
