from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone

ALIVE_WITHIN = timedelta(seconds=15)


class WorkerClusterQuerySet(models.QuerySet["WorkerCluster"]):
    def alive(self) -> WorkerClusterQuerySet:
        """Clusters that reported in within ALIVE_WITHIN: the one meaning of "live"."""
        return self.filter(last_seen__gte=timezone.now() - ALIVE_WITHIN)


class WorkerCluster(models.Model):
    """A running `manage.py qcluster`: its supervisor reports in every few seconds."""

    name = models.CharField(max_length=200, unique=True, help_text="host:pid")
    host = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    workers = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now, db_index=True)

    objects = WorkerClusterQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_alive(self) -> bool:
        return timezone.now() - self.last_seen < ALIVE_WITHIN
