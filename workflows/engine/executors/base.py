from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from workflows.domain.workspace import Workspace
from workflows.models import Project
from workflows.workspace_policy import project_workspace, project_workspace_dir, run_worktree_checked


@dataclass
class StepResult:
    status: Literal["succeeded", "failed", "waiting"]
    output: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    # Not the step's own failure: the worker running it died (workflows.engine.supervisor).
    infrastructure: bool = False

    @classmethod
    def ok(cls, **output: Any) -> StepResult:
        return cls("succeeded", output)

    @classmethod
    def fail(cls, error: str, **output: Any) -> StepResult:
        return cls("failed", output, error)

    @classmethod
    def lost(cls, error: str) -> StepResult:
        """The attempt was lost with its worker: retried apart from the step's own retries."""
        return cls("failed", {}, error, infrastructure=True)


@dataclass
class StepContext:
    """Everything an executor may use; executors never touch Step rows themselves."""

    run_id: int
    step_pk: int
    key: str
    kind: str
    attempt: int
    config: dict[str, Any]
    item: Any
    spec_id: str
    params: dict[str, Any]
    project: Project
    load_inputs: Callable[[], dict[str, dict[str, Any]]]
    timeout_seconds: int | None = None
    # The run's own git worktree when the project's workspace is a git repository
    # (workflows.engine.git_runs): every step of the run reads and writes there instead.
    worktree: Path | None = None
    started: float = field(default_factory=time.monotonic)
    stop_event: threading.Event = field(default_factory=threading.Event)
    stop_reason: str = ""
    _log_lines: list[str] = field(default_factory=list)
    _log_lock: threading.Lock = field(default_factory=threading.Lock)

    @cached_property
    def inputs(self) -> dict[str, dict[str, Any]]:
        """Outputs of the steps this one needs (read on first use: most steps never ask)."""
        return self.load_inputs()

    @property
    def workspace(self) -> Path:
        """Where the step works: the run's worktree for a git project, else the project's
        workspace; checked again on every use (WorkspaceNotAllowed says why it may not be
        used, and the step fails with that message before touching it)."""
        if self.worktree is not None:
            return run_worktree_checked(self.worktree)
        return project_workspace_dir(self.project)

    def spec_workspace(self) -> Workspace:
        """That place as the project reads it (format, evidence settings), checked again."""
        if self.worktree is not None:
            return Workspace(run_worktree_checked(self.worktree), options=self.project.read_options())
        return project_workspace(self.project)

    @property
    def deadline(self) -> float | None:
        return self.started + self.timeout_seconds if self.timeout_seconds else None

    def stop(self, reason: str) -> None:
        if not self.stop_event.is_set():
            self.stop_reason = reason
            self.stop_event.set()

    def log(self, line: str) -> None:
        with self._log_lock:
            self._log_lines.append(line.rstrip("\n"))

    def take_log_lines(self) -> list[str]:
        with self._log_lock:
            lines, self._log_lines = self._log_lines, []
        return lines

    def substitute(self, text: str, **extra: object) -> str:
        """Replace ${{ item }}, ${{ spec_id }}, ${{ run_id }}, ${{ params.NAME }} and extras."""
        values: dict[str, object] = {"item": self.item, "spec_id": self.spec_id, "run_id": self.run_id}
        values.update(extra)
        values.update({f"params.{k}": v for k, v in self.params.items()})
        for name, value in values.items():
            for token in (f"${{{{ {name} }}}}", f"${{{{{name}}}}}"):
                text = text.replace(token, "" if value is None else str(value))
        return text

    def interrupted(self) -> StepResult:
        return StepResult.fail(self.stop_reason or "stopped")
