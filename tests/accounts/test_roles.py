"""Roles are defined once (accounts.models.Role): their order, and every name elsewhere."""

from __future__ import annotations

import typing

from accounts.models import Role
from workflows.api.schemas import RoleName


def test_each_role_covers_itself_and_the_ones_before_it():
    order = [Role.VIEWER, Role.MEMBER, Role.APPROVER, Role.ADMIN]
    for i, role in enumerate(order):
        assert [r for r in order if role.covers(r)] == order[: i + 1]
    assert Role.at_least("approver") == [Role.APPROVER, Role.ADMIN]


def test_the_api_names_the_same_roles():
    assert list(typing.get_args(RoleName)) == list(Role.values)
