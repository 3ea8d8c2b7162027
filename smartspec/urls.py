from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from workflows.api import api

admin.site.site_header = "SmartSpec Autopilot operations"
admin.site.site_title = "SmartSpec Autopilot"
admin.site.index_title = "Operations console"

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
