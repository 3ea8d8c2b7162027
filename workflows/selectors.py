"""Reads that several callers share, so object permissions are written once."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from accounts.permissions import teams_of
from workflows.models import Project


def projects_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Project]:
    return Project.objects.filter(team__in=teams_of(user)).select_related("team")


def get_project_for_user(user: AbstractBaseUser | AnonymousUser, slug: str) -> Project:
    """The project if the user is in its team; 404 otherwise, so outsiders learn nothing."""
    project = projects_visible_to(user).filter(slug=slug).first()
    if project is None:
        raise Http404("No such project.")
    return project
