"""Bringing a run's git branch into the project's base branch, and never by force.

`merge_check` says, without changing anything, what merging would do: how many commits,
whether a fast-forward is possible, whether the branch merges cleanly (`git merge-tree
--write-tree`, which works on objects only), the files that conflict, and whether the
workspace would stand in the way. `merge_run` does it, as the app's author:

- fast_forward: the base branch moves to the run's head, only when the head descends from it;
- merge_commit: a merge commit of base and head (even when a fast-forward was possible), from
  the tree merge-tree wrote, so no file of any checkout is touched to make it.

The base branch then moves in one of two ways. Not checked out anywhere: `git update-ref`
with the expected old value, so a branch that moved meanwhile is never overwritten. Checked
out in the project's workspace: only when the workspace has no uncommitted change to a
tracked file and no untracked file where the merge writes one, with `git merge --ff-only`
to the commit made above, which moves the branch, its index and its files together and
refuses rather than overwrites. A conflict, a fast-forward that is not possible, a dirty
workspace or a base branch checked out in another worktree refuse with `MergeRefused`,
saying why and naming the files; nothing is changed then.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User
from django.utils import timezone

from accounts.services import audit_record
from workflows.domain.texts import Text
from workflows.engine.git_changes import status_entries
from workflows.engine.git_runs import GitError, base_branch, git, git_result, worktrees_root
from workflows.engine.journal import event_append
from workflows.models.projects import MergeStrategy
from workflows.workspace_policy import project_workspace_dir

if TYPE_CHECKING:
    from workflows.models import ApprovalGate, Run, Step

STRATEGIES = tuple(MergeStrategy.values)
MAX_LISTED = 200  # conflicting or dirty files named in a refusal
NO_BRANCH = Text("the run has no git branch: there is nothing to merge")


class MergeRefused(Exception):
    """Merging would need force, or cannot be done now; `files` names the files concerned."""

    def __init__(self, message: str, code: str, files: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code  # conflict, not_fast_forward, dirty, checked_out, moved, no_branch, git
        self.files = files or []


@dataclass
class MergeCheck:
    """What merging the run's branch into the base branch would do now (nothing changed)."""

    strategy: str
    branch: str
    base_branch: str = ""
    base_commit: str = ""
    head: str = ""
    commits: int = 0  # on the run's branch and not yet on the base branch
    already_merged: bool = False  # nothing to merge: the base branch has the head already
    fast_forward: bool = False  # the base branch is an ancestor of the head
    clean: bool = True  # the branch and the base merge without a conflict
    conflicts: list[str] = field(default_factory=list)
    checked_out: bool = False  # the base branch is checked out in the project's workspace
    dirty: list[str] = field(default_factory=list)  # workspace files that stand in the way
    problem: str = ""  # why approving would be refused now (a Text), or ""
    code: str = ""  # MergeRefused's code for that problem

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _repo(run: Run) -> Path:
    return project_workspace_dir(run.project)


@contextmanager
def _repo_lock(repo: Path) -> Iterator[None]:
    """One merge into a repository at a time, across processes."""
    root = worktrees_root()
    root.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(str(repo).encode()).hexdigest()[:16]
    with open(root / f".merge-{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _rev(repo: Path, ref: str) -> str:
    return git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=repo, check=False).strip()


def _is_ancestor(repo: Path, older: str, newer: str) -> bool:
    code, _, err = git_result(["merge-base", "--is-ancestor", older, newer], cwd=repo)
    if code not in (0, 1):
        raise GitError(Text("git {command} failed: {error}", command="merge-base", error=err.strip()))
    return code == 0


def merge_tree(repo: Path, base: str, head: str) -> tuple[str, list[str]]:
    """(the merged tree, the conflicting files): `git merge-tree --write-tree`, which
    writes objects only, never a checkout or an index."""
    args = ["merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", base, head]
    code, out, err = git_result(args, cwd=repo)
    if code not in (0, 1):
        raise GitError(Text("git {command} failed: {error}", command="merge-tree", error=err.strip()))
    fields = out.split("\0")
    conflicts = list(dict.fromkeys(f for f in fields[1:] if f)) if code == 1 else []
    return fields[0].strip(), conflicts


def _checked_out_at(repo: Path, ref: str) -> Path | None:
    """Where the branch `ref` is checked out (the workspace or another worktree), if anywhere."""
    place: Path | None = None
    for line in git(["worktree", "list", "--porcelain", "-z"], cwd=repo).split("\0"):
        if line.startswith("worktree "):
            place = Path(line[len("worktree ") :])
        elif line == f"branch {ref}" and place is not None:
            return place
    return None


def _changed_paths(repo: Path, old: str, new: str) -> set[str]:
    out = git(["diff", "--no-renames", "--name-only", "-z", old, new], cwd=repo)
    return {p for p in out.split("\0") if p}


def _standing_in_the_way(repo: Path, old: str, new: str) -> list[str]:
    """Files of the workspace that keep a checked-out base branch from moving: uncommitted
    changes to tracked files, and untracked files where the merge writes one."""
    written = None
    found: list[str] = []
    for code, path in status_entries(repo):
        if code == "??":
            written = _changed_paths(repo, old, new) if written is None else written
            if path not in written:
                continue
        found.append(path)
    return found


def _names(files: list[str]) -> str:
    shown = ", ".join(files[:20])
    return Text("{files} and {more} more", files=shown, more=len(files) - 20) if len(files) > 20 else shown


def merge_check(run: Run, strategy: str) -> MergeCheck:
    """What merging the run's branch with `strategy` would do now; changes nothing.
    GitError when git cannot read the repository."""
    check = MergeCheck(strategy=strategy, branch=run.git_branch)
    if not run.git_branch:
        check.problem, check.code = NO_BRANCH, "no_branch"
        return check
    repo = _repo(run)
    # The branch the run started from (recorded then); the project's, for a run from before.
    check.base_branch = run.git_base_branch or base_branch(run.project, repo)
    check.base_commit = _rev(repo, f"refs/heads/{check.base_branch}")
    check.head = _rev(repo, f"refs/heads/{run.git_branch}")
    if not check.base_commit or not check.head:
        missing = check.base_branch if not check.base_commit else run.git_branch
        check.problem, check.code = Text("the branch {branch} does not exist", branch=missing), "missing"
        return check
    check.commits = int(
        git(["rev-list", "--count", check.head, f"^{check.base_commit}"], cwd=repo).strip() or 0
    )
    check.already_merged = _is_ancestor(repo, check.head, check.base_commit)
    if check.already_merged:
        return check
    check.fast_forward = _is_ancestor(repo, check.base_commit, check.head)
    tree, check.conflicts = merge_tree(repo, check.base_commit, check.head)
    check.clean = not check.conflicts
    where = _checked_out_at(repo, f"refs/heads/{check.base_branch}")
    check.checked_out = where is not None and _same(where, repo)
    problem = _refusal(check, where)
    if problem is None and check.checked_out:
        check.dirty = _standing_in_the_way(
            repo, check.base_commit, check.head if check.fast_forward else tree
        )
        if check.dirty:
            problem = _dirty(check.base_branch, check.dirty)
    if problem is not None:
        check.problem, check.code = problem.args[0], problem.code
    return check


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _refusal(check: MergeCheck, where: Path | None) -> MergeRefused | None:
    """Why the merge cannot be done as asked, judged from the branches alone."""
    base, branch = check.base_branch, check.branch
    if check.strategy == "fast_forward" and not check.fast_forward:
        return MergeRefused(
            Text(
                "{base} has moved on since {branch} left it, so it cannot be fast-forwarded; "
                "merge with a merge commit instead, or bring the branch up to date",
                base=base,
                branch=branch,
            ),
            "not_fast_forward",
        )
    if check.strategy == "merge_commit" and check.conflicts:
        return MergeRefused(
            Text(
                "{branch} conflicts with {base} in {files}",
                branch=branch,
                base=base,
                files=_names(check.conflicts),
            ),
            "conflict",
            check.conflicts[:MAX_LISTED],
        )
    if where is not None and not check.checked_out:
        return MergeRefused(
            Text(
                "{base} is checked out in another worktree ({where}); merge it there, or check out "
                "another branch in that worktree",
                base=base,
                where=str(where),
            ),
            "checked_out",
        )
    return None


def _dirty(base: str, files: list[str]) -> MergeRefused:
    return MergeRefused(
        Text(
            "{base} is checked out in the project's workspace, which has uncommitted changes in "
            "{files}; commit or stash them first",
            base=base,
            files=_names(files),
        ),
        "dirty",
        files[:MAX_LISTED],
    )


@dataclass(frozen=True)
class Merged:
    """A merge done: the base branch moved from `previous` to `commit` (equal when the
    branch was merged already)."""

    commit: str
    previous: str
    head: str  # the run branch's head that was merged
    base_branch: str
    branch: str
    strategy: str

    @property
    def nothing_to_merge(self) -> bool:
        return self.commit == self.previous

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "nothing_to_merge": self.nothing_to_merge}


def merge_run(run: Run, strategy: str) -> str:
    """Merge the run's branch into the project's base branch with `strategy`
    (merge_commit or fast_forward) and return the base branch's new commit.

    Never forces: raises MergeRefused (nothing changed) when the branches conflict, a
    fast-forward is not possible, the workspace that has the base branch checked out has
    changes in the way, or the base branch moved while merging. A branch merged already
    returns the base branch's commit as it is.
    """
    return merge_branch(run, strategy).commit


def merge_branch(run: Run, strategy: str, *, message: str = "") -> Merged:
    """merge_run, saying what it did; `message` goes in a merge commit's body."""
    if strategy not in STRATEGIES:
        raise ValueError(f"the merge strategy must be one of {', '.join(STRATEGIES)}")
    if not run.git_branch:
        raise MergeRefused(NO_BRANCH, "no_branch")
    repo = _repo(run)
    with _repo_lock(repo):
        try:
            return _merge(run, strategy, repo, message)
        except GitError as exc:
            raise MergeRefused(Text("git could not merge: {reason}", reason=exc.args[0]), "git") from None


def _merge(run: Run, strategy: str, repo: Path, message: str) -> Merged:
    check = merge_check(run, strategy)
    if check.code in ("no_branch", "missing"):
        raise MergeRefused(check.problem, check.code)
    done = Merged(
        check.base_commit, check.base_commit, check.head, check.base_branch, run.git_branch, strategy
    )
    if check.already_merged:
        return done
    where = _checked_out_at(repo, f"refs/heads/{check.base_branch}")
    refused = _refusal(check, where)
    if refused is not None:
        raise refused
    old, ref = check.base_commit, f"refs/heads/{check.base_branch}"
    if strategy == "fast_forward":
        new = check.head
    else:
        tree, conflicts = merge_tree(repo, old, check.head)
        if conflicts:  # the branches moved since the check
            raise MergeRefused(
                Text("{branch} conflicts with {base}", branch=run.git_branch, base=check.base_branch),
                "conflict",
                conflicts,
            )
        subject = f"Merge {run.git_branch} into {check.base_branch}"
        body = f"\n\n{message}" if message else ""
        new = git(["commit-tree", tree, "-p", old, "-p", check.head, "-m", subject + body], cwd=repo).strip()
    if check.checked_out:
        dirty = _standing_in_the_way(repo, old, new)
        if dirty:
            raise _dirty(check.base_branch, dirty)
        # `git merge` moves whatever is checked out: make sure that is still the base branch.
        current = git(["symbolic-ref", "--quiet", "HEAD"], cwd=repo, check=False).strip()
        if current != ref:
            raise MergeRefused(
                Text(
                    "the workspace switched away from {base} while merging; nothing was merged: try again",
                    base=check.base_branch,
                ),
                "moved",
            )
        code, _, err = git_result(["merge", "--ff-only", "--quiet", "--no-edit", new], cwd=repo)
        if code != 0 or _rev(repo, ref) != new:
            raise MergeRefused(
                Text(
                    "{base} could not be moved in the workspace ({error}); nothing was merged",
                    base=check.base_branch,
                    error=err.strip()[:300],
                ),
                "moved",
            )
        return replace(done, commit=new)
    code, _, err = git_result(["update-ref", "-m", f"smartspec: {subject_of(run)}", ref, new, old], cwd=repo)
    if code != 0:
        raise MergeRefused(
            Text(
                "{base} moved while merging ({error}); nothing was merged: try again",
                base=check.base_branch,
                error=err.strip()[:300],
            ),
            "moved",
        )
    return replace(done, commit=new)


def subject_of(run: Run) -> str:
    return f"merge run {run.pk} ({run.git_branch})"


def merge_recorded(
    run: Run,
    merged: Merged,
    *,
    actor: User | None,
    channel: str,
    step: Step | None = None,
    gate: ApprovalGate | None = None,
) -> dict[str, Any]:
    """Put a merge of the run's branch on the record, whoever made it (an approved review
    gate, the run page, the API): a `git.merged` event and an audit entry, with the gate
    that approved it if any; what was recorded. Call inside a transaction."""
    record: dict[str, Any] = {**merged.as_dict(), "at": timezone.now().isoformat()}
    data = {"gate": gate.pk, **record} if gate is not None else dict(record)
    event_append(run_id=run.pk, type="git.merged", step=step, data=data)
    audit_record(
        action="workflows.run.merged", channel=channel, actor=actor, team=run.project.team, obj=run, data=data
    )
    return record
