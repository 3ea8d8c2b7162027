"""Review after the agent: what a review gate shows, and sending rejected work back.

An approval step whose `with:` names `review: <agent step>` reviews that step's work. When
the gate opens, its executor takes a snapshot (`review_snapshot`, kept in the step's output):
the commits of the reviewed step, the files they changed, and the verification of the tasks
the step touched, run on the run's own worktree. The gate's page and API add what may change
while it waits (`review_detail`): the diff itself and whether the run's branch merges into
the base branch now (workflows.engine.git_merge).

Approving merges (workflows.engine.gates calls git_merge.merge_branch). Rejecting with a
comment while the gate's `rework_limit` is not used up appends, after the gate, a rework
agent step of the same workflow whose prompt carries the reviewers' comments, then a fresh
review gate of that step (`rework_append`); whatever came after the gate comes after the
new gate instead. The rework step works on the same branch and commits there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db.models import F

from workflows.domain.layouts import find_spec
from workflows.domain.task_groups import item_tasks
from workflows.domain.template_format import REWORK_LIMIT
from workflows.domain.texts import Text, text_or
from workflows.domain.verification import VerificationReport, verify_spec
from workflows.domain.workspace import ScopeError, UnknownSpec, WorkspaceError
from workflows.engine import git_changes, git_merge, git_runs
from workflows.models import ManualCheck, Run, Step
from workflows.workspace_policy import WorkspaceNotAllowed, project_workspace_dir

if TYPE_CHECKING:
    from workflows.engine.executors.base import StepContext
    from workflows.models import ApprovalGate, Project

MAX_TASKS = 200  # tasks a snapshot lists
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def is_review(config: dict[str, Any]) -> bool:
    return bool(config.get("review"))


def merge_strategy(config: dict[str, Any], project: Project) -> str:
    """The gate's own `merge`, else the project's default."""
    return str(config.get("merge") or project.merge_strategy)


def rework_round(config: dict[str, Any]) -> int:
    """0 for the template's own review gate, n for the gate of the n-th rework."""
    return int(config.get("rework_round", 0))


def rework_limit(config: dict[str, Any]) -> int:
    return int(config.get("rework_limit", REWORK_LIMIT))


def rework_left(config: dict[str, Any]) -> int:
    return max(0, rework_limit(config) - rework_round(config)) if is_review(config) else 0


def reviewed_step(gate_step: Step) -> Step | None:
    """The step a review gate reviews: among the steps it needs, the one whose key is
    `review`, else the one whose template id is (the autopilot's keys carry the turn)."""
    target = gate_step.config.get("review")
    if not target:
        return None
    steps = list(
        Step.objects.filter(run_id=gate_step.run_id, parent__isnull=True, key__in=list(gate_step.needs))
    )
    return next((s for s in steps if s.key == target), None) or next(
        (s for s in steps if s.step_id == target), None
    )


def reviewed_steps(gate_step: Step) -> list[Step]:
    """The steps whose work the gate reviews, oldest first: the one it names and, with
    `review_chain` (the autopilot's batches of parallel tasks), the agent steps of the same
    workflow that come right before it."""
    target = reviewed_step(gate_step)
    if target is None:
        return []
    found = [target]
    while gate_step.config.get("review_chain"):
        before = Step.objects.filter(
            run_id=gate_step.run_id, parent__isnull=True, kind="agent", key__in=list(found[0].needs)
        ).first()
        if before is None or before.config.get("workflow") != target.config.get("workflow"):
            break
        found.insert(0, before)
    return found


def step_commits(step: Step) -> list[dict[str, str]]:
    """The commits a step made (`git` in its output): its own, or its branches' for a fan-out."""
    steps = list(step.branches.order_by("id")) if step.for_each is not None else [step]
    outputs = [s.output for s in steps]
    infos = [o.get("git") for o in outputs if isinstance(o, dict)]
    return [i for i in infos if isinstance(i, dict) and i.get("commit")]


def step_range(run: Run, steps: list[Step], repo: Path) -> tuple[str, str] | None:
    """(from, to): the commits that bracket the steps' work on the run's branch, or None
    when they committed nothing. A fan-out's branches commit one after another on the run's
    branch, or (parallel task branches) on branches of their own that the join merges into
    it (`git.merge`): from the run's branch before the first of them to the last."""
    commits = [c for step in steps for c in step_commits(step)]
    if not commits:
        return None
    if len(commits) == 1 and not commits[0].get("merge"):
        return commits[0].get("parent") or run.git_base, commits[0]["commit"]
    order = git_runs.git(
        ["rev-list", "--first-parent", f"refs/heads/{run.git_branch}", f"^{run.git_base}"], cwd=repo
    ).split()
    place = {sha: index for index, sha in enumerate(order)}  # newest first
    landed = [c.get("merge") or c["commit"] for c in commits]  # where each is on the run's branch
    known = [sha for sha in landed if sha in place]
    if not known:
        return commits[0].get("parent") or run.git_base, commits[0]["commit"]
    oldest = max(known, key=lambda sha: place[sha])
    newest = min(known, key=lambda sha: place[sha])
    return git_runs.git(["rev-parse", f"{oldest}^1"], cwd=repo).strip(), newest


def named_tasks(reviewed: list[Step]) -> list[str]:
    """Tasks the steps name: a fan-out branch's item (a task or a group of them), or `tasks`
    in its output."""
    steps = [b for step in reviewed for b in (step.branches.all() if step.for_each is not None else [step])]
    found: list[str] = []
    for each in steps:
        found += item_tasks(each.item)
        listed = each.output.get("tasks") if isinstance(each.output, dict) else None
        if isinstance(listed, list):
            found += [t for t in listed if isinstance(t, str)]
    return list(dict.fromkeys(found))


def added_lines(diff: str) -> set[int]:
    """Line numbers (new side) a unified diff adds or changes."""
    lines: set[int] = set()
    number = 0
    in_hunk = False
    for line in diff.splitlines():
        match = _HUNK.match(line)
        if match:
            number, in_hunk = int(match.group(1)), True
            continue
        if not in_hunk or line.startswith("\\"):
            continue
        if line.startswith("+"):
            lines.add(number)
            number += 1
        elif not line.startswith("-"):
            number += 1
    return lines


def touched_tasks(
    report: VerificationReport,
    *,
    named: list[str],
    files: list[dict[str, Any]],
    source_roots: tuple[str, ...] = (),
) -> dict[str, list[str]]:
    """Which tasks a change touched, and why: the step named it, a file one of its hooks
    points at changed, or its lines in tasks.md (the item or a hook) were written."""
    changed = {f["path"] for f in files} | {f["old_path"] for f in files if f.get("old_path")}
    tasks_diff = next((f.get("diff", "") for f in files if f["path"] == report.tasks_file), "")
    written = added_lines(tasks_diff) if tasks_diff else set()
    found: dict[str, list[str]] = {}
    for task in report.tasks:
        why: list[str] = []
        if task.id in named:
            why.append("named by the step")
        paths = [r.hook.path for r in task.hooks if r.hook.path]
        hit = [p for p in paths if p in changed or any(f"{root}/{p}" in changed for root in source_roots)]
        if hit:
            why.append(f"its evidence changed: {', '.join(dict.fromkeys(hit))}")
        if written and (task.line in written or any(r.hook.line in written for r in task.hooks)):
            why.append(f"its lines in {report.tasks_file} changed")
        if why:
            found[task.id] = why
    return found


def review_snapshot(context: StepContext, gate_step: Step) -> dict[str, Any]:
    """What the gate reviews, taken when it opens: the reviewed step, the commits and files
    of its work, and the verification of the tasks it touched (on the run's worktree)."""
    run = Run.objects.select_related("project").get(pk=context.run_id)
    reviewed = reviewed_steps(gate_step)
    if not reviewed:
        return {
            "error": Text(
                "the step {step!r} it reviews is not one it needs", step=gate_step.config.get("review")
            )
        }
    target = reviewed[-1]
    snapshot: dict[str, Any] = {
        "step": target.key,
        "steps": [s.key for s in reviewed],
        "workflow": str(target.config.get("workflow", "")),
        "from": "",
        "to": "",
        "files": [],
        "tasks": [],
        "total": 0,
        "verified": 0,
        "verified_at": "",
    }
    files: list[dict[str, Any]] = []
    if run.git_branch and context.worktree is not None:
        repo = project_workspace_dir(run.project)
        bracket = step_range(run, reviewed, repo)
        if bracket is not None:
            snapshot["from"], snapshot["to"] = bracket
            files = git_changes.diff_files(repo, *bracket)
        keep = ("path", "old_path", "status", "additions", "deletions", "binary")
        snapshot["files"] = [{k: f[k] for k in keep} for f in files]
        snapshot["verified_at"] = git_runs.git(["rev-parse", "HEAD"], cwd=context.worktree).strip()
    try:
        workspace = context.spec_workspace()
        location = find_spec(workspace, run.spec_id)
        manual = ManualCheck.objects.for_spec(run.project, run.spec_id)
        report = verify_spec(workspace, location, manual=manual)  # type: ignore[arg-type]
    except (UnknownSpec, WorkspaceError, ScopeError, ValueError) as exc:
        snapshot["verification_error"] = str(exc) or type(exc).__name__
        return snapshot
    named = named_tasks(reviewed)
    touched = touched_tasks(
        report, named=named, files=files, source_roots=run.project.read_options().source_roots
    )
    if not run.git_branch and not touched:
        # Without git there is no diff to tell what was touched: every task is shown.
        touched = {t.id: [] for t in report.tasks}
        snapshot["all_tasks"] = True
    snapshot["tasks"] = [
        {
            "id": t.id,
            "title": t.title,
            "status": str(t.status),
            "checked": t.checked,
            "reasons": list(t.reasons[:5]),
            "why": touched[t.id],
        }
        for t in report.tasks
        if t.id in touched
    ][:MAX_TASKS]
    snapshot["total"], snapshot["verified"] = report.total, report.verified
    snapshot["tasks_file"] = report.tasks_file
    return snapshot


def review_detail(gate: ApprovalGate, *, live: bool = True) -> dict[str, Any] | None:
    """What a review gate's page and API show: the snapshot, the diff of the reviewed
    step, whether approving would merge now (pending gates only), what it merged, and
    how many rework rounds are left. None for a gate that reviews nothing. Without `live`,
    only what is stored (no git): for the run page, which redraws on every event."""
    step = gate.step
    config = step.config
    if not is_review(config):
        return None
    run = gate.run
    snapshot = step.output.get("review") if isinstance(step.output.get("review"), dict) else {}
    detail: dict[str, Any] = {
        **snapshot,
        "step": snapshot.get("step") or str(config["review"]),
        "ready": bool(snapshot),
        "live": live,
        "git": bool(run.git_branch),
        "branch": run.git_branch,
        "strategy": merge_strategy(config, run.project),
        "changed": list(snapshot.get("files") or []),  # what the snapshot lists, without diffs
        "files": [],  # with `live`: each file the step changed, with its diff
        "merge": None,
        "merged": gate.merge or None,
        "rework_round": rework_round(config),
        "rework_limit": rework_limit(config),
        "rework_left": rework_left(config),
        "error": text_or(snapshot.get("error_text"), snapshot.get("error", "")),
        "verification_error": snapshot.get("verification_error", ""),
    }
    if not run.git_branch or not live:
        return detail
    try:
        if snapshot.get("from") and snapshot.get("to"):
            detail["files"] = git_changes.diff_files(
                project_workspace_dir(run.project), snapshot["from"], snapshot["to"]
            )
        if gate.is_pending:
            detail["merge"] = git_merge.merge_check(run, detail["strategy"]).as_dict()
    except (git_runs.GitError, WorkspaceNotAllowed) as exc:
        detail["error"] = Text("the run's git branch cannot be read: {reason}", reason=exc.args[0])
    return detail


# --- rework -----------------------------------------------------------------------------------


def _free_key(run_id: int, wanted: str) -> str:
    taken = set(Step.objects.filter(run_id=run_id, key__startswith=wanted).values_list("key", flat=True))
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted}-{number}" in taken:
        number += 1
    return f"{wanted}-{number}"


def rework_keys(gate_step: Step, reviewed: Step) -> tuple[str, str]:
    """The keys of the rework step and of its review gate (`<agent>-rework-<n>`,
    `<gate>-rework-<n>`, from the keys of the template's own steps)."""
    config = gate_step.config
    round_ = rework_round(config) + 1
    agent_root = str(config.get("rework_agent") or reviewed.key)
    gate_root = str(config.get("rework_gate") or gate_step.key)
    agent = _free_key(gate_step.run_id, f"{agent_root}-rework-{round_}")
    gate = _free_key(gate_step.run_id, f"{gate_root}-rework-{round_}")
    return agent, gate


def rework_prompt(
    reviewed: Step, comments: list[tuple[str, str]], *, round_: int, limit: int, commit: str
) -> str:
    """The reviewed step's own prompt (earlier rounds' comments included), then this round's."""
    said = "\n".join(f"- {who}: " + "\n  ".join(text.strip().splitlines()) for who, text in comments)
    where = f" (commit {commit[:12]})" if commit else ""
    section = (
        f"Rework {round_} of at most {limit}: the reviewers rejected the change of step "
        f"{reviewed.key}{where} and asked for changes. That change is already in the workspace, "
        "on the same branch: change it as they ask rather than starting over.\n\n"
        f"What the reviewers said:\n{said}"
    )
    earlier = str(reviewed.config.get("prompt") or "").strip()
    return f"{earlier}\n\n{section}" if earlier else section


def rework_append(
    run: Run, gate_step: Step, reviewed: Step, keys: tuple[str, str], comments: list[tuple[str, str]]
) -> tuple[Step, Step]:
    """Put a rework agent step and a fresh review gate of it right after `gate_step` (call in
    the transaction that finished the gate). The steps that needed the gate need the new
    gate instead; the gate's only dependent becomes the rework step."""
    config = gate_step.config
    round_ = rework_round(config) + 1
    agent_key, gate_key = keys
    commit = (reviewed.output.get("git") or {}).get("commit", "") if isinstance(reviewed.output, dict) else ""
    prompt = rework_prompt(reviewed, comments, round_=round_, limit=rework_limit(config), commit=commit)
    downstream = list(gate_step.dependents)
    Step.objects.filter(run_id=run.pk, position__gt=gate_step.position).update(position=F("position") + 2)
    agent = Step.objects.create(
        run=run,
        key=agent_key,
        step_id=reviewed.step_id,
        kind="agent",
        position=gate_step.position + 1,
        needs=[gate_step.key],
        dependents=[gate_key],
        config={"workflow": reviewed.config.get("workflow", ""), "prompt": prompt},
        timeout_seconds=reviewed.timeout_seconds,
        max_retries=reviewed.max_retries,
    )
    gate = Step.objects.create(
        run=run,
        key=gate_key,
        step_id=gate_step.step_id,
        kind="approval",
        position=gate_step.position + 2,
        needs=[agent_key],
        dependents=downstream,
        config={
            **{k: v for k, v in config.items() if k != "review_chain"},
            "review": agent_key,
            "rework_round": round_,
            "rework_agent": str(config.get("rework_agent") or reviewed.key),
            "rework_gate": str(config.get("rework_gate") or gate_step.key),
        },
        timeout_seconds=gate_step.timeout_seconds,
    )
    for step in Step.objects.filter(run_id=run.pk, key__in=downstream):
        step.needs = [gate_key if need == gate_step.key else need for need in step.needs]
        step.save(update_fields=["needs"])
    Step.objects.filter(pk=gate_step.pk).update(dependents=[agent_key])
    gate_step.dependents = [agent_key]
    return agent, gate
