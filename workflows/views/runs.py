"""The run page (live over a websocket) and its controls."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import AuditEntry, Role
from accounts.permissions import has_role
from accounts.ratelimits import limit
from workflows.graph import step_graph
from workflows.models import ApprovalGate, Run
from workflows.selectors import get_run_for_user
from workflows.services import runs as run_services
from workflows.views.approvals import gate_context


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
        "graph": step_graph(steps),
        "finished_count": finished,
        "total_count": len(top),
        "gates": gates,
        "can_control": has_role(user, run.project.team_id, Role.MEMBER),
        "checkpoints": run.checkpoints.select_related("step").order_by("seq"),
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
    context |= {"events": events, "logs": dict(logs), "last_seq": run.last_seq}
    return render(request, "workflows/run_detail.html", context)


def _control(request: HttpRequest, run_id: int, action: str) -> HttpResponse:
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
    except run_services.RunError as exc:
        messages.error(request, str(exc))
    return redirect(run.get_absolute_url())


@login_required
@require_POST
@limit("moderate")
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    return _control(request, run_id, "cancel")


@login_required
@require_POST
@limit("moderate")
def run_retry(request: HttpRequest, run_id: int) -> HttpResponse:
    return _control(request, run_id, "retry")


@login_required
@require_POST
@limit("moderate")
def run_resume(request: HttpRequest, run_id: int) -> HttpResponse:
    return _control(request, run_id, "resume")


@login_required
@require_POST
@limit("moderate")
def run_rerun(request: HttpRequest, run_id: int) -> HttpResponse:
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
