"""Starting and controlling runs: start, cancel, resume, retry, re-run from a checkpoint."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from accounts.services import audit_record
from workflows.domain.layouts import discover_specs
from workflows.domain.template_format import StepDef, TemplateDef
from workflows.domain.template_validation import TemplateInvalid, validate
from workflows.domain.texts import Code, Text
from workflows.domain.workspace import SPEC_ID_RULE, is_spec_id
from workflows.engine import dispatch
from workflows.engine.autopilot import autopilot_begin
from workflows.engine.gates import gate_cancel_for_step
from workflows.engine.journal import event_append
from workflows.engine.scheduler import run_advance, run_set_status, step_set_status
from workflows.models import Checkpoint, Project, Run, Step, TemplateVersion
from workflows.services.errors import RunError
from workflows.services.template_lookups import template_version_for
from workflows.specs import SpecsUnavailable, status_cache

S = Step.Status
# Step kinds that read or write the run's spec, so the run must name one.
SPEC_KINDS = ("verify_tasks", "sync_tasks", "quality_gate", "status", "agent")


ACTIVE = (Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.WAITING)


def active_run(project: Project, spec_id: str, workflow: str) -> Run | None:
    """The run of `workflow` on the spec that is still queued, running or waiting, if any."""
    if not spec_id:
        return None
    return (
        Run.objects.filter(project=project, spec_id=spec_id, workflow_name=workflow, status__in=ACTIVE)
        .order_by("-created_at", "-id")
        .first()
    )


def template_def(version: TemplateVersion) -> TemplateDef:
    """The version's definition, validated again by today's format; a version saved by an
    earlier release that the format now refuses cannot start, and says how to fix it."""
    try:
        return validate(version.definition)
    except TemplateInvalid as exc:
        raise RunError(
            Text(
                "Version {number} of the workflow {name} no longer passes validation ({problem}): "
                "save the template again to run it.",
                number=version.number,
                name=version.template.name,
                problem=str(exc.problems[0]) if exc.problems else str(exc),
            ),
            field="workflow",
        ) from None


def build_steps(run: Run, steps: list[StepDef], *, first_position: int = 0) -> list[Step]:
    """Step rows for template steps; `needs` name step ids, which are also the keys."""
    dependents: dict[str, list[str]] = {s.id: [] for s in steps}
    for step in steps:
        for need in step.needs:
            dependents.setdefault(need, []).append(step.id)
    rows = [
        Step(
            run=run,
            key=step.id,
            step_id=step.id,
            kind=step.uses,
            position=first_position + index,
            needs=list(step.needs),
            dependents=dependents[step.id],
            config=step.config,
            for_each=step.for_each,
            join=str(step.join) if step.for_each is not None else "",
            max_retries=step.retries,
            timeout_seconds=step.timeout,
        )
        for index, step in enumerate(steps)
    ]
    return Step.objects.bulk_create(rows)


def _check_spec(project: Project, definition: TemplateDef, spec_id: str) -> None:
    """A run names a spec its steps can use: an existing one, or for the autopilot (which
    starts by writing spec.md) a new id."""
    if spec_id and not is_spec_id(spec_id):
        raise RunError(
            Text("{spec!r} is not a spec id ({rule}).", spec=spec_id, rule=SPEC_ID_RULE), field="spec_id"
        )
    needs_spec = definition.kind == "autopilot" or any(s.uses in SPEC_KINDS for s in definition.steps)
    if needs_spec and not spec_id:
        raise RunError(
            Text("The workflow {workflow!r} works on a spec: give a spec_id.", workflow=definition.name),
            field="spec_id",
        )
    if spec_id and definition.kind != "autopilot" and not _spec_exists(project, spec_id):
        raise RunError(Text("The project has no spec {spec!r}.", spec=spec_id), field="spec_id")


def _spec_exists(project: Project, spec_id: str) -> bool:
    # Looked up among the specs found inside the workspace, never joined to a path.
    try:
        return discover_specs(status_cache(project).workspace).get(spec_id) is not None
    except SpecsUnavailable as exc:
        raise RunError(
            Text("The project's workspace cannot be used: {reason}", reason=exc.args[0]), code="conflict"
        ) from None


def workflow_version(project: Project, name: str, *, field: str = "workflow") -> TemplateVersion:
    """The latest version of the workflow `name` the project may run; every door starts
    runs with it, and says the same when there is none."""
    version = template_version_for(project, name)
    if version is None:
        raise RunError(Text("No workflow named {name!r}.", name=name), field=field)
    return version


def run_start(
    *,
    project: Project,
    version: TemplateVersion,
    spec_id: str = "",
    params: dict[str, Any] | None = None,
    started_by: User | None,
    channel: str,
    allow_concurrent: bool = False,
) -> Run:
    """Start a run. One run of a workflow on a spec is active at a time: a second start
    while one is queued, running or waiting is refused (code "conflict", `run_id` naming
    the active run) unless `allow_concurrent` says it is meant."""
    if not version.template.may_be_run_by(project.team_id):
        raise RunError(Text("No workflow named {name!r}.", name=version.template.name), field="workflow")
    definition = template_def(version)
    _check_spec(project, definition, spec_id)
    with transaction.atomic():
        if not allow_concurrent and spec_id:
            # The project row serializes starts on it, so two at once cannot both pass.
            Project.objects.select_for_update().filter(pk=project.pk).exists()
            active = active_run(project, spec_id, definition.name)
            if active is not None:
                raise RunError(
                    Text(
                        "Run {run} of {workflow} on {spec} is still {status}: "
                        "follow it, or start another on purpose (allow_concurrent).",
                        run=active.pk,
                        workflow=definition.name,
                        spec=spec_id,
                        status=Code(active.status),
                    ),
                    code="conflict",
                    field="spec_id",
                    run_id=active.pk,
                )
        run = Run.objects.create(
            project=project,
            template_version=version,
            workflow_name=definition.name,
            spec_id=spec_id,
            params=params or {},
            started_by=started_by,
            max_parallel=definition.max_parallel,
        )
        event_append(
            run_id=run.pk,
            type="run.queued",
            data={"workflow": definition.name, "version": version.number, "spec_id": spec_id},
        )
        if definition.kind == "autopilot":
            autopilot_begin(run, definition)
        else:
            build_steps(run, list(definition.steps))
        queued = run_advance(run)
        audit_record(
            action="workflows.run.started",
            channel=channel,
            actor=started_by,
            team=project.team,
            obj=run,
            data={"workflow": definition.name, "spec_id": spec_id},
        )
        dispatch.after_commit(queued)
    return run


def run_cancel(*, run: Run, by: User | None, channel: str) -> Run:
    """Cancel the run; running shell and agent processes are killed by their workers."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.is_finished:
            raise RunError(
                Text("Run {run} is already {status}.", run=run.pk, status=Code(run.status)), code="conflict"
            )
        for step in run.steps.filter(status__in=(S.PENDING, S.QUEUED, S.RUNNING, S.WAITING)):
            step_set_status(step, S.CANCELLED, event="step.cancelled", error="the run was cancelled")
            gate_cancel_for_step(step, by=by, channel=channel)
        who = by.get_username() if by is not None and by.is_authenticated else "the system"
        run_set_status(
            run,
            Run.Status.CANCELLED,
            error="cancelled",
            outcome=Run.Outcome.CANCELLED,
            reason=Text("cancelled by {who}", who=who),
        )
        audit_record(
            action="workflows.run.cancelled",
            channel=channel,
            actor=by,
            team=run.project.team,
            obj=run,
        )
    return run


def _reset_unsucceeded(run: Run) -> None:
    """Make failed, cancelled and skipped steps pending again; succeeded ones stay done."""
    for step in run.steps.filter(status__in=(S.FAILED, S.CANCELLED, S.SKIPPED)).order_by("position", "id"):
        step_set_status(
            step,
            S.PENDING,
            event="step.reset",
            error="",
            ready=step.parent_id is not None,
            attempt=0,
            infra_retries=0,
            lease_owner="",
            lease_until=None,
            not_before=None,
            finished_at=None,
        )
    # A fan-out whose branches failed runs again as a group: only the branches reset above.
    for group in run.steps.filter(status=S.PENDING, for_each__isnull=False, parent__isnull=True):
        if group.branches.exists():
            step_set_status(group, S.RUNNING, event="step.started", started_at=timezone.now())


def run_retry(*, run: Run, by: User | None, channel: str) -> Run:
    """Run a failed or cancelled run again in place; steps that succeeded never run again."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.status not in (Run.Status.FAILED, Run.Status.CANCELLED):
            raise RunError(
                Text(
                    "Only a failed or cancelled run can be retried; this one is {status}.",
                    status=Code(run.status),
                ),
                code="conflict",
            )
        _reset_unsucceeded(run)
        run_set_status(run, Run.Status.QUEUED)  # no longer finished: clears the end's fields
        queued = run_advance(run)
        audit_record(
            action="workflows.run.retried",
            channel=channel,
            actor=by,
            team=run.project.team,
            obj=run,
        )
        dispatch.after_commit(queued)
    return run


def run_resume(*, run: Run, by: User | None, channel: str) -> Run:
    """Resume a failed run from its failed step (the same as retry for a failed run)."""
    if run.status != Run.Status.FAILED:
        raise RunError(
            Text("Only a failed run can be resumed; this one is {status}.", status=Code(run.status)),
            code="conflict",
        )
    return run_retry(run=run, by=by, channel=channel)


def run_rerun_from_checkpoint(*, run: Run, checkpoint: Checkpoint, by: User | None, channel: str) -> Run:
    """A new run of the same template version whose steps up to the checkpoint are done."""
    if checkpoint.run_id != run.pk:
        raise RunError(Text("That checkpoint belongs to another run."), code="invalid")
    done = {c.state["key"]: c.state for c in run.checkpoints.filter(seq__lte=checkpoint.seq).order_by("seq")}
    with transaction.atomic():
        new = Run.objects.create(
            project=run.project,
            template_version=run.template_version,
            workflow_name=run.workflow_name,
            spec_id=run.spec_id,
            params=run.params,
            started_by=by,
            parent=run,
            max_parallel=run.max_parallel,
        )
        event_append(
            run_id=new.pk,
            type="run.queued",
            data={"rerun_of": run.pk, "checkpoint": checkpoint.seq},
        )
        for step in run.steps.filter(parent__isnull=True).order_by("position", "id"):
            state = done.get(step.key)
            succeeded = state is not None and state["status"] == S.SUCCEEDED
            Step.objects.create(
                run=new,
                key=step.key,
                step_id=step.step_id,
                kind=step.kind,
                position=step.position,
                needs=step.needs,
                dependents=step.dependents,
                config=step.config,
                for_each=step.for_each,
                join=step.join,
                max_retries=step.max_retries,
                timeout_seconds=step.timeout_seconds,
                status=S.SUCCEEDED if succeeded else S.PENDING,
                output=state["output"] if state is not None and succeeded else {},
            )
        queued = run_advance(new)
        audit_record(
            action="workflows.run.rerun",
            channel=channel,
            actor=by,
            team=run.project.team,
            obj=new,
            data={"from_run": run.pk, "checkpoint": checkpoint.seq},
        )
        dispatch.after_commit(queued)
    return new
