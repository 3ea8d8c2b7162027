"""Which open tasks of a spec may be implemented at the same time.

spec-kit marks a task that touches its own files and depends on no open task with `[P]`;
the tasks parser also marks every task of a parallel phase (a heading that ends with
`(parallel)`, or a `parallel: true` line) as parallel. The open tasks, in the order of
tasks.md, fall into batches that must run one after another:

- a run of consecutive parallel tasks of one phase is a parallel batch: one group per task,
  and those groups may run at the same time;
- a run of consecutive other tasks is a sequential batch: one group holding all of them, in
  order, for one agent.

A phase change ends a batch (spec-kit's `[P]` tests of one phase come before the `[P]`
models of the next). Verified tasks, optional ones (Kiro's `- [ ]*`) and tasks only a
person can check are not open work for an agent and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class OpenTask(Protocol):
    """What grouping reads of a task (verification's TaskResult has it)."""

    @property
    def id(self) -> str: ...
    @property
    def phase(self) -> str | None: ...
    @property
    def parallel(self) -> bool: ...


@dataclass(frozen=True)
class TaskGroup:
    """Tasks one agent implements, in order; a parallel group holds exactly one."""

    tasks: tuple[str, ...]
    parallel: bool

    @property
    def item(self) -> str | list[str]:
        """The group as a for_each item: a task id, or the list of a sequential group's ids."""
        return self.tasks[0] if self.parallel else list(self.tasks)


Batch = list[TaskGroup]


def task_batches(tasks: Iterable[OpenTask]) -> list[Batch]:
    """The open tasks (in tasks.md order) as batches to run one after another."""
    batches: list[Batch] = []
    sequential: list[str] = []
    parallel_phase: str | None = None  # the phase of the parallel batch being filled
    for task in tasks:
        if task.parallel:
            if sequential:
                batches.append([TaskGroup(tuple(sequential), parallel=False)])
                sequential = []
            if not batches or not batches[-1][0].parallel or parallel_phase != task.phase:
                batches.append([])
                parallel_phase = task.phase
            batches[-1].append(TaskGroup((task.id,), parallel=True))
        else:
            sequential.append(task.id)
            parallel_phase = None
    if sequential:
        batches.append([TaskGroup(tuple(sequential), parallel=False)])
    return batches


def next_batch(tasks: Iterable[OpenTask]) -> Batch:
    """The groups to implement now: the first batch (empty when nothing is open)."""
    batches = task_batches(tasks)
    return batches[0] if batches else []


def parallel_count(batches: Sequence[Batch]) -> int:
    """How many open tasks belong to a parallel batch of two or more."""
    return sum(len(batch) for batch in batches if len(batch) > 1 and batch[0].parallel)


def item_tasks(item: Any) -> list[str]:
    """The task ids a for_each item names: a task id, or a list of them."""
    if isinstance(item, str) and item:
        return [item]
    if isinstance(item, list):
        return [t for t in item if isinstance(t, str) and t]
    return []
