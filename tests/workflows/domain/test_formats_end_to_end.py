"""A team pointing the app at a spec-kit, Kiro, OpenSpec or SmartSpec workspace gets the
statuses a person reading those files would agree with (the fixtures' READMEs say why)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from workflows.domain.routing import recommend
from workflows.domain.spec_formats import ReadOptions
from workflows.domain.status import StatusCache, spec_detail
from workflows.domain.workspace import Workspace

Copy = Callable[[str], Path]


def statuses(root: Path, **options: object) -> dict[str, dict[str, str]]:
    workspace = Workspace(root, options=ReadOptions(**options))  # type: ignore[arg-type]
    found = {}
    for detail in StatusCache(workspace).details():
        status = detail.status
        found[status.spec_id] = {
            "format": status.format,
            "implementation": str(status.implementation_status),
            "tasks": f"{status.tasks_verified}/{status.tasks_checked}/{status.tasks_total}",
            "next": recommend(status).workflow,
            **{task.id: str(task.status) for task in detail.verification.tasks},
        }
    return found


def test_a_spec_kit_workspace(copy_workspace: Copy) -> None:
    found = statuses(copy_workspace("formats/spec-kit"))
    assert found == {
        "001-photo-albums": {
            "format": "spec-kit",
            "implementation": "IN_PROGRESS",
            "tasks": "3/3/4",  # verified/checked/total: the coverage lines are not tasks
            "next": "implement_tasks",
            "T001": "verified",
            "T002": "verified",
            "T003": "verified",
            "T004": "missing_evidence",
        },
        "002-album-sharing": {
            "format": "spec-kit",
            "implementation": "NOT_STARTED",
            "tasks": "0/0/0",
            "next": "generate_plan",
        },
    }


def test_spec_kit_tasks_say_why_they_count_and_carry_their_markers(copy_workspace: Copy) -> None:
    workspace = Workspace(copy_workspace("formats/spec-kit"))
    tasks = {t.id: t for t in spec_detail(workspace, "001-photo-albums").verification.tasks}
    assert (
        tasks["T002"]
        .reasons[0]
        .endswith("satisfied: implicit: src/models/album.py exists (named in the task; no evidence hook)")
    )
    assert "src/services/share.py not found" in " ".join(tasks["T004"].reasons)
    as_dict = tasks["T002"].as_dict()
    assert (as_dict["parallel"], as_dict["story"], as_dict["priority"]) == (True, "US1", "P1")


def test_without_implicit_evidence_nothing_in_spec_kit_is_verified(copy_workspace: Copy) -> None:
    found = statuses(copy_workspace("formats/spec-kit"), implicit_evidence=False)
    albums = found["001-photo-albums"]
    assert albums["tasks"] == "0/3/4" and albums["implementation"] == "NOT_STARTED"
    # Every task lacks evidence: the next step adds hooks, it does not re-implement 4 tasks.
    assert albums["next"] == "add_evidence_hooks"


def test_a_kiro_workspace(copy_workspace: Copy) -> None:
    found = statuses(copy_workspace("formats/kiro"))
    auth = found["user-authentication"]
    assert auth["format"] == "kiro"
    assert auth["tasks"] == "2/2/4"  # 2.1* is optional: shown, not counted
    assert (auth["1"], auth["1.1"], auth["1.2"], auth["2"]) == (
        "verified",  # its evidence hook
        "verified",  # implicit: src/auth/session.py
        "missing_evidence",  # in progress, nothing named
        "missing_evidence",
    )
    assert "2.1" in auth and auth["next"] == "implement_tasks"
    assert found["search"]["next"] == "generate_plan"


def test_an_openspec_workspace(copy_workspace: Copy) -> None:
    found = statuses(copy_workspace("formats/openspec"))
    assert list(found) == ["add-two-factor"]  # the archive and the capability are set aside
    change = found["add-two-factor"]
    assert change["format"] == "openspec"
    assert change["tasks"] == "1/1/3"
    assert (change["1.1"], change["1.2"], change["2.1"]) == (
        "verified",
        "missing_evidence",
        "missing_evidence",
    )
    assert change["next"] == "implement_tasks"


def test_a_smartspec_workspace_in_its_authors_style(copy_workspace: Copy) -> None:
    found = statuses(copy_workspace("formats/smartspec"))
    clip = found["012-AddTextClip"]
    assert clip["format"] == "smartspec"
    assert (clip["TSK-CLIP-001"], clip["TSK-CLIP-002"]) == ("verified", "missing_evidence")
    assert clip["tasks"] == "1/1/2" and clip["next"] == "implement_tasks"
    assert found["v1.6-merge-import-export"]["next"] == "generate_plan"
