"""docker is not available here: the Dockerfile's shape is checked by reading it."""

from __future__ import annotations

import json
import re

from tests.processes import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), " ".join(rest.split())))
    return result


def all_of(keyword: str) -> list[str]:
    return [rest for kw, rest in instructions() if kw == keyword]


def test_it_builds_on_python_311_slim():
    assert all_of("FROM") == ["python:3.11-slim"]


def test_it_installs_exactly_the_locked_dependencies():
    runs = " ".join(all_of("RUN"))
    assert "pip install --require-hashes" in runs and "-r requirements.lock" in runs
    assert any(rest.startswith("requirements.lock") for rest in all_of("COPY"))


def test_it_collects_static_files_at_build_and_runs_as_a_non_root_user():
    kinds = [kw for kw, _ in instructions()]
    collect = next(
        i for i, (kw, rest) in enumerate(instructions()) if kw == "RUN" and "collectstatic --noinput" in rest
    )
    users = all_of("USER")
    assert users and users[-1] not in ("root", "0", "0:0")
    assert collect < kinds.index("USER")  # collected files belong to root, read-only for the app


def test_one_image_runs_daphne_by_default_with_a_port_and_a_healthcheck():
    assert all_of("EXPOSE") == ["8000"]
    command = json.loads(all_of("CMD")[-1])
    assert command[:3] == ["python", "-m", "smartspec.web"] and "smartspec.asgi:application" in command
    assert command[command.index("-b") + 1] == "0.0.0.0"  # noqa: S104 (inside the container)
    assert command[command.index("-p") + 1] == "8000"
    health = all_of("HEALTHCHECK")[-1]
    assert "workflows.observability.probe" in health


def test_the_build_context_leaves_out_local_state():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", "staticfiles", "tests"} <= ignored
