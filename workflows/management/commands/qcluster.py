"""django-q2's `qcluster`, plus the engine's supervisor in the cluster's main process.

The supervisor reaps steps whose worker died, re-sends lost queue messages and fires
approval timers, once at start (after a machine restart, every unfinished run carries
on) and then every SUPERVISOR_INTERVAL_SECONDS.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django_q.cluster import Cluster
from django_q.management.commands.qcluster import Command as QClusterCommand

from workflows.engine.supervisor import cluster_report_in, cluster_sign_off, supervise

logger = logging.getLogger("workflows.supervisor")


class Command(QClusterCommand):
    help = "Start the django-q2 workers together with the workflow engine's supervisor."

    def handle(self, *args: Any, **options: Any) -> None:
        cluster = Cluster()
        cluster.start()
        if options.get("run_once"):
            supervise()
            cluster.stop()
            return
        self._serve(cluster)
        cluster_sign_off(name=f"{socket.gethostname()}:{os.getpid()}")

    def _serve(self, cluster: Cluster) -> None:
        interval = float(settings.SUPERVISOR_INTERVAL_SECONDS)
        name = f"{socket.gethostname()}:{os.getpid()}"
        while cluster.sentinel is not None and cluster.sentinel.is_alive():
            try:
                cluster_report_in(name=name, workers=int(settings.Q_CLUSTER["workers"]))
                supervise()
            except Exception as exc:
                # A database hiccup must not stop the cluster; the next pass tries again.
                logger.exception("supervisor pass failed: %s", exc)
            finally:
                close_old_connections()
            time.sleep(interval)
