"""Steps of a git run that change files take turns in the run's worktree.

A step of a git run commits what the run's worktree holds when it ends
(workflows.engine.git_runs.commit_step). Two such steps running at once in that one
worktree would each commit the other's work, half done, under their own names. So the
scheduler holds a ready step that changes files back, as it holds back a step that finds no
free slot, while another step that changes files has the run's worktree; it starts when that
one has finished. On a run without git, or one allowed a single step at a time, nothing
waits.

Work that should run side by side on git goes in a `for_each: parallel_tasks` group: its
branches each work in a worktree of their own (workflows.engine.git_branches) and never
wait here. Steps of the kinds that change no file (executors.LEAVES_FILES_ALONE) never wait
either.

`waiting_steps` says, for the run page and the API, why a ready step has not started: its
turn in the worktree, or a free slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workflows.domain.texts import Text
from workflows.engine import git_branches, git_runs
from workflows.engine.executors import changes_files
from workflows.models import Run, Step

SLOT, WORKTREE = "slot", "worktree"


def uses_run_worktree(step: Step) -> bool:
    """The step changes files, in the run's worktree (not in a branch worktree of its own)."""
    return step.for_each is None and changes_files(step.kind) and not git_branches.is_branch_step(step)


class WorktreeTurns:
    """Whose turn it is in one run's worktree, for one pass of the scheduler over its ready
    steps: `must_wait(step)` before giving a step a slot, `took(step)` after."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._on_git: bool | None = None
        self._taken: bool | None = None

    def must_wait(self, step: Step) -> bool:
        if self.run.max_parallel <= 1 or not uses_run_worktree(step):
            return False
        if self._on_git is None:
            self._on_git = git_runs.works_on_git(self.run)
        if not self._on_git:
            return False
        if self._taken is None:
            active = Step.objects.filter(
                run_id=self.run.pk,
                status__in=(Step.Status.QUEUED, Step.Status.RUNNING),
                for_each__isnull=True,
            ).only("kind", "parent_id", "config", "for_each")
            self._taken = any(uses_run_worktree(other) for other in active)
        return self._taken

    def took(self, step: Step) -> None:
        if self._on_git and uses_run_worktree(step):
            self._taken = True


@dataclass(frozen=True)
class Wait:
    """Why a ready step has not started: `for_` SLOT (the run's max_parallel steps are
    active) or WORKTREE (`behind`, a step that changes files, has the run's worktree)."""

    for_: str
    sentence: Text
    behind: str = ""


def waiting_steps(run: Run, steps: Sequence[Step]) -> dict[int, Wait]:
    """Why each step of the run that is ready but not started waits (by pk), from all its
    steps as they are now; a ready step missing here is about to be queued."""
    ready = [s for s in steps if s.status == Step.Status.PENDING and s.ready and s.for_each is None]
    if not ready or run.is_finished:
        return {}
    active = [
        s for s in steps if s.status in (Step.Status.QUEUED, Step.Status.RUNNING) and s.for_each is None
    ]
    holder = next((s for s in active if uses_run_worktree(s)), None)
    if holder is not None and (run.max_parallel <= 1 or not git_runs.works_on_git(run)):
        holder = None
    found: dict[int, Wait] = {}
    for step in ready:
        if holder is not None and uses_run_worktree(step):
            sentence = Text("waits for its turn in the run's git worktree, which {step} has", step=holder.key)
            found[step.pk] = Wait(WORKTREE, sentence, behind=holder.key)
        elif len(active) >= run.max_parallel:
            sentence = Text("waits for a free slot: the run runs at most {n} at once", n=run.max_parallel)
            found[step.pk] = Wait(SLOT, sentence)
    return found
