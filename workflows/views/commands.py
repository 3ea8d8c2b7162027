"""The command box: free text → what it would do (a preview) → do it on confirmation."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import AuditEntry
from accounts.permissions import AuthenticatedHttpRequest
from accounts.ratelimits import limit
from workflows.selectors import get_project_for_user
from workflows.services.errors import RunError
from workflows.services.intents import intent_can_start, intent_execute, intent_parse
from workflows.specs import SpecsUnavailable, project_specs
from workflows.views.errors import refusal_text

MAX_TEXT = 500


@login_required
@require_POST
@limit("moderate")
def command(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug)
    text = request.POST.get("text", "").strip()[:MAX_TEXT]
    context: dict[str, object] = {"project": project, "text": text}
    if not text:
        context["error"] = _("Type what you want, e.g. “run autopilot on core-001” or “สถานะ spec-core-001”.")
    elif request.POST.get("confirm") == "1":
        try:
            outcome = intent_execute(
                intent=intent_parse(text=text, project=project),
                project=project,
                user=request.user,
                channel=AuditEntry.Channel.WEB,
            )
        except (RunError, SpecsUnavailable) as exc:
            context["error"] = refusal_text(exc)
        else:
            if outcome.run is not None:
                if request.htmx:  # type: ignore[attr-defined]
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = outcome.run.get_absolute_url()
                    return response
                return redirect(outcome.run.get_absolute_url())
            context["message"] = outcome.message
    else:
        intent = intent_parse(text=text, project=project)
        context["intent"] = intent
        context["can_execute"] = intent_can_start(intent, project=project, user=request.user)
        if intent.action.kind == "show_status":
            # A status answer is the statuses themselves, each linking to its spec.
            try:
                rows = project_specs(project)
            except SpecsUnavailable as exc:
                context["error"] = refusal_text(exc)
            else:
                if intent.spec_id:
                    rows = [r for r in rows if r.status.spec_id == intent.spec_id]
                    if not rows:
                        context["error"] = _("There is no spec %(spec)s in this project.") % {
                            "spec": intent.spec_id
                        }
                context["status_rows"] = rows
    template = "workflows/_command_result.html" if request.htmx else "workflows/command.html"  # type: ignore[attr-defined]
    return render(request, template, context, status=200)
