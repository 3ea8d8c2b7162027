from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Apply migrations to every configured database (the queue's own SQLite file too)."

    def handle(self, *args: Any, **options: Any) -> None:
        for alias in settings.DATABASES:
            call_command("migrate", database=alias, interactive=False, verbosity=0)
            self.stdout.write(f"Database '{alias}' is up to date.")
