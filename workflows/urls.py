from __future__ import annotations

from django.urls import path

from workflows.views import approvals, commands, manual_checks, pages, project_settings, runs, workflows

urlpatterns = [
    path("", pages.dashboard, name="dashboard"),
    path("projects/<slug:slug>/", pages.project_detail, name="project_detail"),
    path("projects/<slug:slug>/runs/", pages.run_create, name="run_create"),
    path("projects/<slug:slug>/reading/", project_settings.project_reading, name="project_reading"),
    path("projects/<slug:slug>/spending/", project_settings.project_spending, name="project_spending"),
    path("projects/<slug:slug>/git/", project_settings.project_git, name="project_git"),
    path("projects/<slug:slug>/specs/<str:spec_id>/", pages.spec_detail, name="spec_detail"),
    path(
        "projects/<slug:slug>/specs/<str:spec_id>/tasks/<str:task_id>/manual-check/",
        manual_checks.manual_check,
        name="manual_check",
    ),
    path("runs/<int:run_id>/", runs.run_detail, name="run_detail"),
    path("runs/<int:run_id>/cancel/", runs.run_cancel, name="run_cancel"),
    path("runs/<int:run_id>/retry/", runs.run_retry, name="run_retry"),
    path("runs/<int:run_id>/resume/", runs.run_resume, name="run_resume"),
    path("runs/<int:run_id>/rerun/", runs.run_rerun, name="run_rerun"),
    path("runs/<int:run_id>/merge/", runs.run_merge, name="run_merge"),
    path("runs/<int:run_id>/publish/", runs.run_publish, name="run_publish"),
    path("projects/<slug:slug>/command/", commands.command, name="command"),
    path("workflows/", workflows.workflow_list, name="workflows"),
    path("workflows/<slug:name>/", workflows.workflow_detail, name="workflow_detail"),
    path("approvals/", approvals.inbox, name="approvals"),
    path("approvals/<int:gate_id>/", approvals.detail, name="approval_detail"),
    path("approvals/link/<str:token>/", approvals.link, name="approval_link"),
]
