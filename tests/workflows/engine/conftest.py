from __future__ import annotations

from typing import Any

import pytest
import yaml

from workflows.engine.worker import execute_step
from workflows.models import Run, Step, TemplateVersion
from workflows.services.runs import run_start
from workflows.services.templates import template_save


@pytest.fixture(autouse=True)
def quick_engine(settings: Any) -> None:
    settings.STEP_RETRY_BACKOFF_SECONDS = 0


def save_template(text: str) -> TemplateVersion:
    return template_save(source=text, content_type="application/yaml", created_by=None, channel="system")


def start(project: Any, text_or_version: str | TemplateVersion, user: Any = None, **kw: Any) -> Run:
    version = save_template(text_or_version) if isinstance(text_or_version, str) else text_or_version
    return run_start(project=project, version=version, started_by=user, channel="web", **kw)


def drain(run: Run, limit: int = 2000) -> Run:
    """Work the run's queue in this process, as a worker would, until nothing is queued."""
    for _ in range(limit):
        step = Step.objects.filter(run=run, status=Step.Status.QUEUED).order_by("position", "id").first()
        if step is None:
            break
        execute_step(step.pk)
    run.refresh_from_db()
    return run


def statuses(run: Run) -> dict[str, str]:
    return dict(run.steps.values_list("key", "status"))


def seqs(run: Run) -> list[int]:
    return list(run.events.order_by("seq").values_list("seq", flat=True))


def template(**doc: Any) -> str:
    return yaml.safe_dump(doc)
