"""The run page (live over a websocket) and its controls."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import AuditEntry, Role
from accounts.permissions import AuthenticatedHttpRequest, has_role
from accounts.ratelimits import limit
from workflows.domain.texts import Text
from workflows.engine import git_changes, git_merge, git_runs
from workflows.engine.worktree_turns import waiting_steps
from workflows.graph import step_graph
from workflows.models import AgentUsage, ApprovalGate, Event, Run
from workflows.selectors import get_run_for_user
from workflows.services import runs as run_services
from workflows.services.errors import RunError
from workflows.services.publishing import run_merge as merge_service
from workflows.services.publishing import run_publish as publish_service
from workflows.templatetags.workflow_tags import in_language
from workflows.views.approvals import gate_context
from workflows.views.diffs import UNIFIED, diff_view, diff_view_links, files_for_page
from workflows.views.errors import refusal_text
from workflows.workspace_policy import WorkspaceNotAllowed, project_workspace_dir

# The colour of a run's bar and headline by how it ended: only a run that reached its
# goal is green; a failed, cancelled or stopped run never shows a full green bar.
TONE: dict[str, str] = {
    Run.Status.SUCCEEDED: "ok",
    Run.Status.FAILED: "bad",
    Run.Status.CANCELLED: "muted",
    Run.Status.STOPPED: "warn",
    Run.Status.WAITING: "warn",
}


def run_progress(run: Run, top: list[Any]) -> dict[str, Any]:
    """How far the run got. An autopilot run grows a turn at a time, so it counts turns
    ("turn 3 of at most 12"), never a share of steps that drops when steps are added."""
    finished = sum(1 for s in top if s.is_finished)
    definition = run.template_version.definition or {}
    autopilot = definition.get("kind") == "autopilot"
    progress: dict[str, Any] = {"finished": finished, "total": len(top), "autopilot": autopilot}
    if autopilot:
        limit = run.params.get("max_iterations", definition.get("max_iterations", 10))
        limit = limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else 10
        turn = max(run.iterations, sum(1 for s in top if s.kind == "status" and s.status != "pending"), 1)
        progress |= {"turn": min(turn, limit), "max_turns": limit}
        percent = round(100 * min(turn, limit) / limit)
    else:
        percent = round(100 * finished / len(top)) if top else 0
    if run.status == Run.Status.SUCCEEDED:
        percent = 100
    elif run.is_finished:
        percent = min(percent, 99)  # it ended short of its goal: never a full bar
    progress |= {"percent": percent, "tone": TONE.get(run.status, "info")}
    return progress


def run_outcome(run: Run, steps: list[Any]) -> str:
    """One sentence at the top of the run page: how the run ended, or where it stands. A
    reason the engine wrote as a sentence template is shown in the reader's language."""
    sentence = run.outcome_sentence
    from_template = isinstance(sentence, Text)
    reason = str(in_language(sentence)) if from_template else sentence.strip()
    if run.status == Run.Status.STOPPED and from_template:
        return capfirst(reason)  # the engine's sentence starts "stopped: …" already
    if run.status == Run.Status.SUCCEEDED:
        if reason:
            return _("Succeeded: %(reason)s") % {"reason": reason}
        return _("Succeeded: every step passed.")
    if run.status == Run.Status.STOPPED:
        if reason:
            return _("Stopped: %(reason)s") % {"reason": reason}
        return _("Stopped before reaching its goal.")
    if run.status == Run.Status.FAILED:
        failed = next((s for s in steps if s.status == "failed"), None)
        error = str(in_language(run.error_sentence))
        if failed is None:
            return _("Failed: %(reason)s") % {"reason": reason or error or "—"}
        return _("Failed at step %(step)s: %(error)s") % {
            "step": failed.key,
            "error": (str(in_language(failed.error_sentence)) or reason or error or "—")[:300],
        }
    if run.status == Run.Status.CANCELLED:
        entry = (
            AuditEntry.objects.filter(action="workflows.run.cancelled", object_id=str(run.pk))
            .select_related("actor")
            .first()
        )
        if entry is not None and entry.actor is not None:
            return _("Cancelled by %(user)s.") % {"user": entry.actor.get_username()}
        return _("Cancelled.")
    if run.status == Run.Status.WAITING:
        return _("Waiting for an approval.")
    if run.status == Run.Status.QUEUED:
        return _("Queued: waiting for a worker.")
    running = next((s for s in steps if s.status == "running"), None)
    if running is not None:
        return _("Running step %(step)s.") % {"step": running.key}
    return _("Running.")


def run_context(run: Run, user: Any) -> dict[str, Any]:
    steps = list(run.steps.order_by("position", "id"))
    top = [s for s in steps if s.parent_id is None]
    finished = sum(1 for s in top if s.is_finished)
    gates = [
        gate_context(gate, user)
        for gate in ApprovalGate.objects.filter(run=run).select_related("run", "step").order_by("created_at")
    ]
    return {
        "run": run,
        "steps": steps,
        "waits": waiting_steps(run, steps),  # why a ready step has not started, in its row
        "graph": step_graph(steps),
        "finished_count": finished,
        "total_count": len(top),
        "top_steps": top,
        "progress": run_progress(run, top),
        "outcome": run_outcome(run, steps),
        "gates": gates,
        "can_control": has_role(user, run.project.team_id, Role.MEMBER),
        "checkpoints": run.checkpoints.select_related("step").order_by("seq"),
        "usage_rows": list(AgentUsage.objects.for_run(run).select_related("step")),
        "usage_total": AgentUsage.objects.for_run(run).totals(),
    }


@login_required
@require_GET
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_run_for_user(request.user, run_id)
    context = run_context(run, request.user)
    if request.GET.get("partial") == "live":
        return render(request, "workflows/_run_live.html", context)
    events = list(run.events.order_by("seq"))
    logs: dict[str, list[str]] = defaultdict(list)
    for event in events:
        if event.type == "step.log":
            logs[event.data.get("key", "")].extend(event.data.get("lines", []))
    # The page follows on from the last event it shows. run.last_seq was read before the
    # events, so a worker may have added some in between; starting from it would show them twice.
    last_seq = events[-1].seq if events else 0
    context |= {"events": events, "logs": dict(logs), "last_seq": last_seq}
    view = diff_view(request)
    context |= _changes(
        run, events, can_merge=context["can_control"], step=request.GET.get("step"), view=view
    )
    context["diff_links"] = diff_view_links(request, view, anchor="changes")
    return render(request, "workflows/run_detail.html", context)


def _changes(
    run: Run, events: list[Event], *, can_merge: bool, step: str | None = None, view: str = UNIFIED
) -> dict[str, object]:
    """The run's changes on its git branch for the page (git_changes.run_changes), what was
    merged, and whether the branch would merge now (for a finished run), or why not. The
    diff shown is the whole run's, or with `step` (the page's ?step=) that step's commit,
    unified or side by side (`view`, diffs.diff_view)."""
    if not run.git_branch:
        return {"changes": None, "changes_error": ""}
    try:
        repo = project_workspace_dir(run.project)
        # One diff is shown at a time: the other steps' files are only named and counted.
        changes = git_changes.run_changes(
            run, with_diffs={git_changes.WHOLE_RUN, step or git_changes.WHOLE_RUN}
        )
        check = (
            git_merge.merge_check(run, run.project.merge_strategy)
            if can_merge and run.is_finished and changes["head"] != run.git_base
            else None
        )
    except (git_runs.GitError, WorkspaceNotAllowed) as exc:
        return {"changes": None, "changes_error": refusal_text(exc)}
    chosen = next((s for s in changes["steps"] if s["key"] == step), None) if step else None
    unknown = ""
    if step and chosen is None:
        unknown = _("Step %(step)s made no commit in this run; the whole run's changes are shown.") % {
            "step": step
        }
    return {
        "changes": changes,
        "changes_error": "",
        "changes_step": chosen["key"] if chosen else "",
        "changes_files": files_for_page(chosen["files"] if chosen else changes["files"], view, repo=repo),
        "changes_unknown_step": unknown,
        "merges": _merges(events),
        "merge_check": check,
    }


def _merges(events: list[Event]) -> list[dict[str, Any]]:
    """What was merged into the base branch, oldest first: by an approved review gate (with
    its link) or from this page or the API (`git.merged` events)."""
    merged = [e for e in events if e.type == "git.merged"]
    gates = ApprovalGate.objects.in_bulk([e.data["gate"] for e in merged if e.data.get("gate")])
    return [{**e.data, "gate": gates.get(e.data.get("gate")), "step": e.data.get("key", "")} for e in merged]


def _control(request: AuthenticatedHttpRequest, run_id: int, action: str) -> HttpResponse:
    run = get_run_for_user(request.user, run_id, role=Role.MEMBER)
    try:
        if action == "cancel":
            run_services.run_cancel(run=run, by=request.user, channel=AuditEntry.Channel.WEB)
            messages.success(request, _("Run %(run)s cancelled.") % {"run": run.pk})
        elif action == "retry":
            run_services.run_retry(run=run, by=request.user, channel=AuditEntry.Channel.WEB)
            messages.success(
                request, _("Run %(run)s is running again from where it stopped.") % {"run": run.pk}
            )
        elif action == "resume":
            run_services.run_resume(run=run, by=request.user, channel=AuditEntry.Channel.WEB)
            messages.success(request, _("Run %(run)s resumes from its failed step.") % {"run": run.pk})
    except RunError as exc:
        messages.error(request, refusal_text(exc))
    return redirect(run.get_absolute_url())


@login_required
@require_POST
@limit("moderate")
def run_cancel(request: AuthenticatedHttpRequest, run_id: int) -> HttpResponse:
    return _control(request, run_id, "cancel")


@login_required
@require_POST
@limit("moderate")
def run_retry(request: AuthenticatedHttpRequest, run_id: int) -> HttpResponse:
    return _control(request, run_id, "retry")


@login_required
@require_POST
@limit("moderate")
def run_resume(request: AuthenticatedHttpRequest, run_id: int) -> HttpResponse:
    return _control(request, run_id, "resume")


@login_required
@require_POST
@limit("moderate")
def run_rerun(request: AuthenticatedHttpRequest, run_id: int) -> HttpResponse:
    run = get_run_for_user(request.user, run_id, role=Role.MEMBER)
    raw = request.POST.get("checkpoint", "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        message = _("Choose one of the run's checkpoints to re-run from.")
        return render(
            request, "error.html", {"status": 400, "title": _("Bad request"), "message": message}, status=400
        )
    checkpoint = get_object_or_404(run.checkpoints, pk=int(raw))
    new = run_services.run_rerun_from_checkpoint(
        run=run, checkpoint=checkpoint, by=request.user, channel=AuditEntry.Channel.WEB
    )
    messages.success(
        request,
        _("Run %(new)s re-runs run %(run)s from its checkpoint #%(seq)s.")
        % {"new": new.pk, "run": run.pk, "seq": checkpoint.seq},
    )
    return redirect(new.get_absolute_url())


@login_required
@require_POST
@limit("moderate")
def run_merge(request: AuthenticatedHttpRequest, run_id: int) -> HttpResponse:
    """Merge the finished run's branch into the branch it started from."""
    run = get_run_for_user(request.user, run_id, role=Role.MEMBER)
    try:
        merged = merge_service(run=run, by=request.user, channel=AuditEntry.Channel.WEB)
    except RunError as exc:
        messages.error(request, _("Not merged: %(reason)s") % {"reason": refusal_text(exc)})
        return redirect(run.get_absolute_url())
    if merged.nothing_to_merge:
        messages.success(request, _("%(base)s had every commit already.") % {"base": merged.base_branch})
    else:
        messages.success(
            request,
            _("Merged %(branch)s into %(base)s.") % {"branch": merged.branch, "base": merged.base_branch},
        )
    return redirect(run.get_absolute_url())


@login_required
@require_POST
@limit("moderate")
def run_publish(request: AuthenticatedHttpRequest, run_id: int) -> HttpResponse:
    """Push the run's branch to the project's remote and open its pull request."""
    run = get_run_for_user(request.user, run_id, role=Role.MEMBER)
    try:
        result = publish_service(run=run, by=request.user, channel=AuditEntry.Channel.WEB)
    except RunError as exc:
        messages.error(request, _("Not published: %(reason)s") % {"reason": refusal_text(exc)})
        return redirect(run.get_absolute_url())
    if result["pull_request_url"]:
        messages.success(
            request,
            _("Pushed %(branch)s to %(remote)s; pull request: %(url)s")
            % {"branch": result["branch"], "remote": result["remote"], "url": result["pull_request_url"]},
        )
    else:
        messages.success(
            request,
            _("Pushed %(branch)s to %(remote)s.") % {"branch": result["branch"], "remote": result["remote"]},
        )
    return redirect(run.get_absolute_url())
