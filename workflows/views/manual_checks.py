"""The spec page's manual checks: a member records (or withdraws) a person's check of a
task only a person can check. The rule lives in workflows.services.manual_checks."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import AuditEntry, Role
from accounts.permissions import AuthenticatedHttpRequest
from accounts.ratelimits import limit
from workflows.domain.workspace import UnknownSpec
from workflows.selectors import get_project_for_user
from workflows.services.manual_checks import ManualCheckError, manual_check_record, manual_check_withdraw
from workflows.specs import SpecsUnavailable
from workflows.views.errors import refusal_text


def _back(slug: str, spec_id: str, task_id: str) -> HttpResponse:
    return redirect(reverse("spec_detail", args=[slug, spec_id]) + f"#task-{task_id}")


@login_required
@require_POST
@limit("moderate")
def manual_check(request: AuthenticatedHttpRequest, slug: str, spec_id: str, task_id: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug, role=Role.MEMBER)
    withdraw = request.POST.get("action") == "withdraw"
    try:
        if withdraw:
            manual_check_withdraw(
                project=project,
                spec_id=spec_id,
                task_id=task_id,
                by=request.user,
                channel=AuditEntry.Channel.WEB,
            )
            messages.success(request, _("The manual check of %(task)s was withdrawn.") % {"task": task_id})
        else:
            manual_check_record(
                project=project,
                spec_id=spec_id,
                task_id=task_id,
                note=request.POST.get("note", ""),
                by=request.user,
                channel=AuditEntry.Channel.WEB,
            )
            messages.success(request, _("%(task)s is recorded as checked by you.") % {"task": task_id})
    except (ManualCheckError, UnknownSpec, SpecsUnavailable, PermissionDenied) as exc:
        messages.error(request, refusal_text(exc))
    return _back(slug, spec_id, task_id)
