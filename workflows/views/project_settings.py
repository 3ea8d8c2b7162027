"""Settings a team admin changes on the project page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import Role
from accounts.permissions import AuthenticatedHttpRequest
from accounts.ratelimits import limit
from workflows.forms import GitForm, ProjectSettingsForm, ReadingForm, SpendingForm
from workflows.selectors import get_project_for_user
from workflows.services.projects import project_update
from workflows.templatetags.workflow_tags import in_language


@login_required
@require_POST
@limit("moderate")
def project_reading(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """Save how the project's specs are read: format, specs folder, evidence settings."""
    return _save(request, slug, ReadingForm, _("Saved: the specs are read with the new settings."))


@login_required
@require_POST
@limit("moderate")
def project_spending(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """Save the project's agent budgets and token prices."""
    saved = _("Saved: the new budgets apply before the next agent step of every run.")
    return _save(request, slug, SpendingForm, saved)


@login_required
@require_POST
@limit("moderate")
def project_git(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """Save where runs branch from, how they merge and where they are published."""
    return _save(request, slug, GitForm, _("Saved: the git settings apply to the next run and publish."))


def _save(
    request: AuthenticatedHttpRequest, slug: str, form_class: type[ProjectSettingsForm], saved: str
) -> HttpResponse:
    """A team admin saves one group of the project's settings through the service."""
    project = get_project_for_user(request.user, slug, role=Role.ADMIN)
    form = form_class(request.POST, instance=project)
    if not form.is_valid():
        return _refused(request, form, form.errors)
    try:
        values = form.settings()
        project_update(
            project=project,
            updated_by=request.user,
            channel="web",
            reading=values if form.group == "reading" else None,
            spending=values if form.group == "spending" else None,
            git=values if form.group == "git" else None,
        )
    except ValidationError as exc:
        return _refused(request, form, _said(exc))
    messages.success(request, saved)
    return redirect(project.get_absolute_url())


def _said(refused: ValidationError) -> dict[str, list[object]]:
    """The service's refusals per field as they were raised: a sentence of the domain stays
    one (workflows.domain.texts.Text), so the page can say it in the reader's language."""
    if not hasattr(refused, "error_dict"):
        return {"": [*refused.messages]}
    return {
        field: [error.message % error.params if error.params else error.message for error in errors]
        for field, errors in refused.error_dict.items()
    }


def _refused(
    request: HttpRequest, form: ProjectSettingsForm, errors: Mapping[str, Sequence[object]]
) -> HttpResponse:
    """Say what was refused, field by field; nothing was saved."""
    for field, messages_ in errors.items():
        label = form.fields[field].label if field in form.fields else field
        messages.error(request, f"{label}: {in_language(messages_[0])}")
    return redirect(form.instance.get_absolute_url())
