"""Send django-q2's broker table to its own database when one is configured."""

from __future__ import annotations

from typing import Any

from django.conf import settings

QUEUE_APP = "django_q"


class QueueRouter:
    """Without Redis, django-q2's ORM broker lives in a second SQLite file.

    Only the broker's `OrmQ` table moves; task results and schedules stay in the default
    database, where the admin and the readiness check read them.
    """

    def _queue_db(self) -> str:
        return str(settings.QUEUE_DATABASE)

    def _is_broker(self, model: Any) -> bool:
        return model._meta.app_label == QUEUE_APP and model._meta.model_name == "ormq"

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return self._queue_db() if self._is_broker(model) else None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return self._queue_db() if self._is_broker(model) else None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        queue_db = self._queue_db()
        if queue_db == "default":
            return None
        if db == queue_db:
            return app_label == QUEUE_APP and model_name == "ormq"
        if app_label == QUEUE_APP and model_name == "ormq":
            return False
        return None
