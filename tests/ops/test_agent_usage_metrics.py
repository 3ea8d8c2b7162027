"""/metrics: tokens, cost and wall-clock time of agent steps, by project."""

from __future__ import annotations

import pytest

from tests.ops.test_metrics import samples
from tests.workflows.engine.conftest import drain, start
from tests.workflows.engine.test_agent_usage import SPEC, agents, use_agent

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_metrics_count_agent_tokens_cost_and_time_by_project(client, project, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1/32"]
    use_agent(project, "0.25")
    drain(start(project, agents(2), spec_id=SPEC))
    use_agent(project, "silent")
    drain(start(project, agents(1), spec_id=SPEC, allow_concurrent=True))

    found = samples(client.get("/metrics"))

    label = (("project", "acme-web"),)
    assert found[("smartspec_agent_tokens_total", (("direction", "in"), *label))] == 2400
    assert found[("smartspec_agent_tokens_total", (("direction", "out"), *label))] == 600
    assert found[("smartspec_agent_cost_usd_total", label)] == pytest.approx(0.5)
    assert found[("smartspec_agent_steps_unpriced_total", label)] == 1
    # Every attempt's time counts, the silent agent's too.
    assert found[("smartspec_agent_step_duration_seconds_count", label)] == 3
    assert found[("smartspec_agent_step_duration_seconds_sum", label)] > 0
    assert found[("smartspec_agent_step_duration_seconds_bucket", (("le", "+Inf"), *label))] == 3
