from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from accounts.models import Profile, Team
from accounts.permissions import teams_of

SESSION_KEY = "current_team_id"


def current_team(request: HttpRequest) -> Team | None:
    """The team the user chose in the team switcher, or their first team."""
    teams = teams_of(request.user)
    chosen = request.session.get(SESSION_KEY)
    if chosen is not None:
        team = teams.filter(pk=chosen).first()
        if team is not None:
            return team
    return teams.order_by("name").first()


class CurrentTeamMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.team = SimpleLazyObject(lambda: current_team(request))  # type: ignore[attr-defined]
        return self.get_response(request)


class UserLanguageMiddleware:
    """Shows a signed-in user's pages in the language saved in their profile.

    Runs after AuthenticationMiddleware. LocaleMiddleware has already picked a language from
    the cookie or Accept-Language; a saved choice wins over both, on every device.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            code = Profile.saved_language(user)
            if code is not None:
                translation.activate(code)
                request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


class StaffOnly(PermissionDenied):
    """A page for staff users only: the 403 page says so."""


class StaffOnlyAdminMiddleware:
    """The admin answers a signed-in user who is not staff with a 403 page saying it is
    for staff (Django's own admin would send them to its sign-in form, which looks like
    their password failed). Anonymous visitors still get the admin's sign-in form."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            request.path.startswith("/admin/")
            and user is not None
            and user.is_authenticated
            and not user.is_staff
            and not request.path.startswith(("/admin/login/", "/admin/logout/"))
        ):
            raise StaffOnly("The admin is for staff users.")
        return self.get_response(request)
