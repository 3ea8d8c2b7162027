"""Facts defined once: roles and their order, step kinds, and every name elsewhere."""

from __future__ import annotations

import typing

from accounts.models import Role
from workflows.api.schemas import RoleName
from workflows.domain.template_format import MERGE_STRATEGIES, ROLE_NAMES, STEP_KINDS
from workflows.engine.executors import EXECUTORS, executor_for
from workflows.models import MergeStrategy
from workflows.templatetags.workflow_tags import KIND_LABEL


def test_each_role_covers_itself_and_the_ones_before_it():
    order = [Role.VIEWER, Role.MEMBER, Role.APPROVER, Role.ADMIN]
    for i, role in enumerate(order):
        assert [r for r in order if role.covers(r)] == order[: i + 1]
    assert Role.at_least("approver") == [Role.APPROVER, Role.ADMIN]


def test_the_api_names_the_same_roles():
    _, one_of = typing.get_args(RoleName)
    assert list(one_of.values) == list(Role.values)


def test_every_step_kind_has_an_executor_and_a_label():
    assert tuple(EXECUTORS) == STEP_KINDS and set(KIND_LABEL) == set(STEP_KINDS)
    assert all(callable(executor_for(kind)) for kind in STEP_KINDS)


def test_the_template_format_names_the_models_roles_and_merge_strategies():
    # The domain imports no models: the format's own lists must be the models' choices.
    assert tuple(Role.values) == ROLE_NAMES
    assert tuple(MergeStrategy.values) == MERGE_STRATEGIES
