from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from accounts.ratelimits import password_door
from workflows.api import api

admin.site.site_header = "SmartSpec Autopilot operations"
admin.site.site_title = "SmartSpec Autopilot"
admin.site.index_title = "Operations console"
# The admin's password form counts on the same strict counter as /accounts/login/; set
# before admin.site.urls below, which routes login/ to this attribute.
admin.site.login = password_door(admin.site.login)  # type: ignore[method-assign,assignment]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("", include("workflows.observability.urls")),
    path("", include("workflows.urls")),
]

handler404 = "workflows.views.errors.not_found"
handler500 = "workflows.views.errors.server_error"
handler403 = "workflows.views.errors.forbidden"
handler400 = "workflows.views.errors.bad_request"
