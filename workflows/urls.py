from __future__ import annotations

from django.urls import path

from workflows.views import pages

urlpatterns = [
    path("", pages.dashboard, name="dashboard"),
    path("projects/<slug:slug>/", pages.project_detail, name="project_detail"),
]
