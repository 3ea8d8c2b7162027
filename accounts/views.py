from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import TeamSwitchForm, TokenCreateForm
from accounts.middleware import SESSION_KEY
from accounts.models import ApiToken, AuditEntry, Profile
from accounts.permissions import AuthenticatedHttpRequest, teams_of
from accounts.ratelimits import limit, password_door
from accounts.services import token_create, token_revoke

# The doors that check a password share one counter (the admin's login too: smartspec/urls.py).
login = password_door(auth_views.LoginView.as_view(redirect_authenticated_user=True))
password_change = password_door(auth_views.PasswordChangeView.as_view())
password_reset = limit("strict", methods=("POST",))(
    auth_views.PasswordResetView.as_view(
        subject_template_name="registration/password_reset-subject.txt",
        email_template_name="registration/password_reset-body.txt",
        html_email_template_name="registration/password_reset-body.html",
    )
)
password_reset_confirm = limit("strict", methods=("POST",))(auth_views.PasswordResetConfirmView.as_view())


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST or None)
    raw_token = None
    if request.method == "POST" and form.is_valid():
        _, raw_token = token_create(
            user=request.user, name=form.cleaned_data["name"], channel=AuditEntry.Channel.WEB
        )
        form = TokenCreateForm()
    user_tokens = ApiToken.objects.filter(user=request.user)
    return render(
        request,
        "accounts/tokens.html",
        {"form": form, "tokens": user_tokens, "raw_token": raw_token},
    )


@login_required
@require_POST
def token_revoke_view(request: AuthenticatedHttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    if token_revoke(token=token, by=request.user, channel=AuditEntry.Channel.WEB):
        messages.success(request, _("Token “%(name)s” revoked. It no longer works.") % {"name": token.name})
    return redirect("tokens")


@login_required
@require_POST
def team_switch(request: HttpRequest) -> HttpResponse:
    form = TeamSwitchForm(request.POST)
    if form.is_valid():
        team = teams_of(request.user).filter(pk=form.cleaned_data["team"]).first()
        if team is None:
            messages.error(request, _("You are not a member of that team."))
        else:
            request.session[SESSION_KEY] = team.pk
            messages.info(request, _("Now working in team “%(team)s”.") % {"team": team.name})
        target = form.cleaned_data["next"]
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(target)
    return redirect("dashboard")


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """The language picker: saves a signed-in user's choice in their profile, and for
    everyone (the login page too) sets Django's language cookie."""
    code = request.POST.get("language", "")
    target = request.POST.get("next", "")
    if not (
        target
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        target = reverse("dashboard") if request.user.is_authenticated else reverse("login")
    response = redirect(target)
    names = dict(settings.LANGUAGES)
    if code not in names:
        messages.error(
            request,
            _("“%(code)s” is not a language SmartSpec Autopilot offers; nothing was changed.")
            % {"code": code[:20]},
        )
        return response
    if request.user.is_authenticated:
        Profile.objects.update_or_create(user=request.user, defaults={"language": code})
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    with translation.override(code):
        messages.success(request, _("Language changed to %(language)s.") % {"language": names[code]})
    return response
