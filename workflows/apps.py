from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_builtin_templates(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    # Templates live in the default database only (the queue database holds no app tables).
    if using != "default":
        return
    from workflows.services.templates import templates_install_builtin

    templates_install_builtin()


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Workflows"

    def ready(self) -> None:
        import smartspec.checks  # noqa: F401  (registers the cross-setting system checks)

        # Built-in templates are part of the schema a migrated database must have.
        post_migrate.connect(_install_builtin_templates, sender=self)
