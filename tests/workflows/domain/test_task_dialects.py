"""Task lines as Kiro, spec-kit and SmartSpec's status items write them; references; positional ids."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.domain.spec_formats import ReadOptions, SpecFormat
from workflows.domain.sync import sync_checkboxes, sync_spec_tasks
from workflows.domain.tasks_parser import is_reference_heading, parse_tasks
from workflows.domain.verification import verify_document, verify_spec
from workflows.domain.workspace import SpecLocation, Workspace


@pytest.fixture
def dialects_root(copy_workspace: Callable[[str], Path]) -> Path:
    return copy_workspace("dialects")


def _read(root: Path, name: str) -> str:
    return (root / name / "tasks.md").read_text(encoding="utf-8")


# --- Kiro ------------------------------------------------------------------------------------


def test_kiro_numbered_tasks_have_ids_parents_and_markers(dialects_root: Path) -> None:
    doc = parse_tasks(_read(dialects_root, "kiro"))
    rows = [(t.id, t.title, t.parent, t.checked, t.optional, t.in_progress, t.line) for t in doc.tasks]
    assert rows == [
        ("1", "Set up the project structure", None, True, False, False, 3),
        ("2", "Build the data layer", None, False, False, False, 7),
        ("2.1", "Create the user model", "2", True, False, False, 8),
        ("2.2", "Hash passwords", "2", False, False, True, 12),
        ("2.3", "Write unit tests for the user model", "2", False, True, False, 17),
        ("2.4", "Write property tests for passwords", "2", True, True, False, 19),
        ("3", "Wire the sign-in flow", None, False, False, False, 21),
        ("3.1", "Add the sign-in service", "3", False, False, False, 22),
    ]
    assert doc.issues == ()  # description bullets and _Requirements_ lines are not noise


def test_numeric_ids_drop_the_trailing_dot_and_keep_a_parent_that_is_not_there() -> None:
    doc = parse_tasks("- [ ] 1. One\n- [x] 1.1.1 Deep\n    - [ ] 4.2. Nested\n- [ ] 7 Bare\n")
    assert [(t.id, t.parent, t.title) for t in doc.tasks] == [
        ("1", None, "One"), ("1.1.1", "1.1", "Deep"), ("4.2", "4", "Nested"), ("7", None, "Bare"),
    ]  # fmt: skip


def test_kiro_in_progress_is_not_checked_and_its_box_offset_points_at_the_dash() -> None:
    text = "- [-] 3. Working on it\n"
    task = parse_tasks(text).tasks[0]
    assert (task.checked, task.in_progress, text[task.box_offset]) == (False, True, "-")


def test_optional_tasks_are_listed_but_left_out_of_totals_and_drift(dialects_root: Path) -> None:
    report = verify_document(
        Workspace(dialects_root),
        parse_tasks(_read(dialects_root, "kiro")),
        spec_id="user-auth",
        spec_format=SpecFormat.KIRO,
    )
    assert report.statuses() == {
        "1": "missing_evidence", "2": "missing_evidence", "2.1": "verified", "2.2": "verified",
        "2.3": "missing_evidence", "2.4": "missing_evidence", "3": "missing_evidence",
        "3.1": "not_verified",
    }  # fmt: skip
    # 2.4 is checked and not verified, but optional: no drift, and not in the counts.
    assert (report.total, report.checked, report.verified) == (6, 2, 2)
    assert report.checked_not_verified == ("1",)
    assert report.verified_not_checked == ("2.2",)
    assert report.optional_ids == ("2.3", "2.4")
    assert sum(report.by_status().values()) == 6
    optional = {t.id: t for t in report.tasks}["2.4"]
    assert optional.reasons == (
        "no evidence hook under this task",
        "optional task: not counted in the totals or drift",
    )
    assert not optional.drift
    data = report.as_dict()
    assert data["totals"]["tasks"] == 6 and data["optional_tasks"] == ["2.3", "2.4"]  # type: ignore[index]
    listed = {t["id"]: t for t in data["tasks"]}  # type: ignore[attr-defined]
    assert listed["2.4"]["optional"] is True and listed["2.4"]["status"] == "missing_evidence"
    assert listed["2.2"]["in_progress"] is True and listed["2.1"]["parent"] == "2"


def test_sync_leaves_an_in_progress_box_until_the_task_is_verified() -> None:
    text = "- [-] 1. A\n- [-] 2. B\n"
    result = sync_checkboxes(text, {"1": "not_verified", "2": "verified"})
    assert result.text == "- [-] 1. A\n- [x] 2. B\n" and result.flipped == ("2",)


# --- spec-kit --------------------------------------------------------------------------------


def test_spec_kit_markers_come_off_the_title(dialects_root: Path) -> None:
    doc = parse_tasks(_read(dialects_root, "spec-kit"))
    rows = [(t.id, t.parallel, t.story, t.priority, t.title) for t in doc.tasks]
    assert rows == [
        ("T001", False, None, None, "Create the project skeleton in src/"),
        ("T002", True, None, None, "Add the lint settings to `pyproject.toml`"),
        ("T003", False, None, None, "Create the User model in src/models/user.py"),
        ("T004", True, None, None, "Add the session store in src/services/sessions.py"),
        ("T005", True, "US1", "P1", "Write the model test in tests/test_user.py"),
        ("T006", False, "US1", "P1", "Build the login page in src/pages/login.tsx"),
        ("T007", False, "US1", "P1", "Wire the sign-in service"),
        ("T008", True, "US2", "P2", "Email the reset link from src/services/reset.py"),
    ]
    # The phase keeps its whole title; the priority is read from it.
    assert doc.task("T005").phase == "Phase 3: User Story 1 - Sign in (Priority: P1) 🎯 MVP"  # type: ignore[union-attr]
    assert doc.phases[-1] == "Phase 4: User Story 2 - Reset a password (Priority: P2)"


def test_a_priority_marker_on_the_task_wins_over_the_phase() -> None:
    doc = parse_tasks("## Phase 2: Stories (P2)\n- [ ] T1 [P1] [P] Urgent\n- [ ] T2 Normal\n")
    assert [(t.id, t.priority, t.parallel, t.title) for t in doc.tasks] == [
        ("T1", "P1", True, "Urgent"), ("T2", "P2", False, "Normal"),
    ]  # fmt: skip


def test_a_later_phase_without_a_priority_resets_it() -> None:
    doc = parse_tasks("## Phase 3: Story (Priority: P1)\n- [ ] T1 a\n## Phase 4: Polish\n- [ ] T2 b\n")
    assert [t.priority for t in doc.tasks] == ["P1", None]


# --- coverage and checklist lines ------------------------------------------------------------


def test_coverage_and_checklist_lines_are_not_tasks(dialects_root: Path) -> None:
    doc = parse_tasks(_read(dialects_root, "spec-kit"))
    assert [t.id for t in doc.tasks] == [f"T00{i}" for i in range(1, 9)]
    # No warning per line, and the hook under the coverage heading belongs to no task.
    assert [(i.line, i.severity, i.message) for i in doc.issues] == [
        (29, "info", "5 coverage or checklist items are references, not tasks (first on line 29)"),
    ]
    assert doc.task("T008").hooks == ()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "line",
    [
        "- [x] FR-018 Passwords are hashed, enforced by T109",
        "- [x] NFR-2 Sign-in answers in 200 ms",
        "- [x] SC-004 95% of people sign in on the first try",
        "- [ ] CHK001 Every story has a test",
        "- [x] REQ-AUTH-3 Lockout after five failures",
        "- [ ] AC-1 Given a user, when …",
        "- [ ] US1 Sign in",
        "- [x] E2E test covers sign-in",
        "- [x] The lockout is verified by T012",
        "- ✅ FR-001 covered",
    ],
)
def test_reference_lines_anywhere_are_not_tasks(line: str) -> None:
    doc = parse_tasks(f"- [ ] T1 Real\n{line}\n")
    assert [t.id for t in doc.tasks] == ["T1"]
    assert [(i.severity, i.message) for i in doc.issues] == [
        ("info", "1 coverage or checklist item is a reference, not a task (first on line 2)"),
    ]


@pytest.mark.parametrize(
    ("heading", "reference"),
    [
        ("Coverage", True),
        ("Requirements Coverage", True),
        ("Requirements coverage (FR → tasks)", True),
        ("Traceability", True),
        ("Traceability Matrix", True),
        ("Requirements Traceability Matrix", True),
        ("✅ Validation Checklist", True),
        ("Checklist: before merging", True),
        ("Acceptance criteria coverage", True),
        ("Test coverage", False),
        ("Tasks", False),
        ("Coverage of the payment flow by new tests", False),
        ("Dependencies & Execution Order", False),
    ],
)
def test_which_headings_open_a_reference_section(heading: str, reference: bool) -> None:
    assert is_reference_heading(heading) is reference


def test_a_reference_section_ends_at_a_heading_of_the_same_level_or_a_phase() -> None:
    text = (
        "## Coverage\n"
        "- [x] T9 listed under coverage\n"
        "### Detail\n"
        "- [x] T10 still coverage\n"
        "## Tasks\n"
        "- [ ] T1 A task again\n"
        "# Traceability\n"
        "- [x] T11 mapped\n"
        "### Phase 2: Back to work\n"
        "- [ ] T2 Another task\n"
    )
    doc = parse_tasks(text)
    assert [t.id for t in doc.tasks] == ["T1", "T2"]
    assert doc.issues[0].message.startswith("3 coverage or checklist items")


def test_a_reference_heading_closes_the_task_above_it() -> None:
    text = "- [ ] T1 A\n## Requirements coverage\n| FR-1 | evidence: code path=a.py |\n"
    doc = parse_tasks(text)
    assert doc.tasks[0].hooks == () and doc.issues == ()


def test_task_ids_must_end_in_a_digit_group() -> None:
    doc = parse_tasks("- [ ] T001a Suffix\n- [ ] PLAN-7 Plan\n- [ ] v2 Upgrade\n- [ ] Step-A Later\n")
    assert [t.id for t in doc.tasks] == ["PLAN-7", "v2"]
    assert [(i.line, i.severity) for i in doc.issues] == [(1, "warning"), (4, "warning")]


def test_existing_ids_stay_tasks(basic_ws: Workspace, lab_root: Path) -> None:
    text = (lab_root / "specs/lab/spec-lab-001-every-status/tasks.md").read_text()
    assert len(parse_tasks(text).tasks) == 27
    doc = parse_tasks("- [ ] TSK-AUTH-001 a\n- [ ] T006 b\n- [ ] A-1 c\n- [ ] SCOPE-1 d\n- [ ] ACME-2 e\n")
    assert [t.id for t in doc.tasks] == ["TSK-AUTH-001", "T006", "A-1", "SCOPE-1", "ACME-2"]


# --- SmartSpec status items ------------------------------------------------------------------


def test_status_items_are_tasks(dialects_root: Path) -> None:
    text = _read(dialects_root, "smartspec")
    doc = parse_tasks(text)
    lines = text.split("\n")
    assert [(t.id, t.title, t.checked, t.emoji) for t in doc.tasks] == [
        ("TSK-ITEM-001", "User model", True, True),
        ("TSK-ITEM-002", "Session store", False, True),
        ("TSK-ITEM-003", "Claimed without evidence", True, True),
        ("TSK-ITEM-004", "Sign-in service", False, True),
        ("TSK-ITEM-005", "Password hashing", False, False),
    ]
    assert [lines[t.line - 1][t.box_offset] for t in doc.tasks] == ["✅", "⬜", "✅", "⬜", " "]
    assert doc.issues == ()  # "- ✅ Everything … reviewed" is prose: no task, no warning


def test_a_status_item_in_prose_does_not_end_the_task_above_it() -> None:
    doc = parse_tasks("- [ ] T1 a\n- ✅ reviewed\n  evidence: code path=a.py\n")
    assert [h.path for h in doc.tasks[0].hooks] == ["a.py"]


def test_status_items_with_a_variation_selector() -> None:
    doc = parse_tasks("- \u2705\ufe0f T1 Done\n")
    assert [(t.id, t.checked, t.box_offset) for t in doc.tasks] == [("T1", True, 2)]


def test_sync_swaps_the_emoji_of_status_items(dialects_root: Path) -> None:
    text = _read(dialects_root, "smartspec")
    ws = Workspace(dialects_root)
    statuses = verify_document(ws, parse_tasks(text), spec_id="s").statuses()
    result = sync_checkboxes(text, statuses)
    assert result.flipped == ("TSK-ITEM-002", "TSK-ITEM-003", "TSK-ITEM-005")
    assert "- ✅ **TSK-ITEM-002**: Session store" in result.text
    assert "* ⬜ TSK-ITEM-003 Claimed without evidence" in result.text
    assert "- [x] TSK-ITEM-005 Password hashing" in result.text
    assert "- ✅ Everything in phase 1 was reviewed" in result.text
    # Only the box characters changed: same length in characters and in UTF-8 bytes.
    changed = [i for i, (a, b) in enumerate(zip(text, result.text, strict=True)) if a != b]
    assert len(changed) == 3 and len(result.text.encode()) == len(text.encode())
    after = parse_tasks(result.text)
    assert [t.checked for t in after.tasks] == [True, True, False, False, True]
    assert sync_checkboxes(result.text, statuses).text == result.text


def test_sync_writes_status_items_to_the_spec_file(dialects_root: Path) -> None:
    spec_dir = dialects_root / "specs" / "spec-core-010-status-items"
    spec_dir.mkdir(parents=True)
    (spec_dir / "tasks.md").write_text(_read(dialects_root, "smartspec"), encoding="utf-8")
    ws = Workspace(dialects_root)
    location = SpecLocation("spec-core-010-status-items", None, "specs/spec-core-010-status-items")
    report = verify_spec(ws, location)
    result = sync_spec_tasks(ws, location, report.statuses())
    written = (spec_dir / "tasks.md").read_text(encoding="utf-8")
    assert written == result.text and "- ✅ **TSK-ITEM-002**" in written


# --- positional ids --------------------------------------------------------------------------

POSITIONAL = """# Tasks

- [ ] Before any phase

## Phase 1: Setup

- [x] Create the repository
- [ ] T001 A real task
- [ ] Add the CI workflow

## Phase 2: Build

- [ ] Write the parser
"""


def test_without_the_option_id_less_items_stay_warnings() -> None:
    doc = parse_tasks(POSITIONAL)
    assert [t.id for t in doc.tasks] == ["T001"]
    assert [(i.line, i.severity) for i in doc.issues] == [
        (3, "warning"),
        (7, "warning"),
        (9, "warning"),
        (13, "warning"),
    ]


def test_positional_ids_number_items_within_their_phase() -> None:
    doc = parse_tasks(POSITIONAL, positional_ids=True)
    assert [(t.id, t.title, t.checked) for t in doc.tasks] == [
        ("P0.1", "Before any phase", False),
        ("P1.1", "Create the repository", True),
        ("T001", "A real task", False),
        ("P1.2", "Add the CI workflow", False),
        ("P2.1", "Write the parser", False),
    ]
    assert doc.issues == ()


def test_positional_ids_are_stable_when_an_item_is_appended() -> None:
    before = {t.title: t.id for t in parse_tasks(POSITIONAL, positional_ids=True).tasks}
    appended = POSITIONAL + "- [ ] Write the printer\n"
    after = {t.title: t.id for t in parse_tasks(appended, positional_ids=True).tasks}
    assert after == {**before, "Write the printer": "P2.2"}
    # An item added to the end of phase 1 leaves phase 2's ids alone too.
    grown = POSITIONAL.replace("- [ ] Add the CI workflow\n", "- [ ] Add the CI workflow\n- [ ] Add docs\n")
    after = {t.title: t.id for t in parse_tasks(grown, positional_ids=True).tasks}
    assert after == {**before, "Add docs": "P1.3"}


def test_positional_ids_are_stable_when_another_phase_changes() -> None:
    before = {t.title: t.id for t in parse_tasks(POSITIONAL, positional_ids=True).tasks}
    edited = POSITIONAL.replace("- [x] Create the repository\n", "- [x] Create the repo\n- [ ] Plan\n")
    after = {t.title: t.id for t in parse_tasks(edited, positional_ids=True).tasks}
    assert after["Write the parser"] == before["Write the parser"] == "P2.1"


def test_a_phase_without_a_number_counts_by_its_position() -> None:
    doc = parse_tasks("## Phase: Setup\n- [ ] a\n## Phase: Build\n- [ ] b\n", positional_ids=True)
    assert [t.id for t in doc.tasks] == ["P1.1", "P2.1"]


def test_positional_ids_never_take_a_real_id() -> None:
    text = "## Phase 1: A\n- [ ] first\n  evidence: code\n- [ ] P1.1 Real, later in the file\n"
    doc = parse_tasks(text, positional_ids=True)
    assert [t.id for t in doc.tasks] == ["P1.1-2", "P1.1"]
    # The hook error names the renamed task.
    assert [i.message for i in doc.issues] == ["P1.1-2: a code hook needs path="]


def test_references_and_status_prose_get_no_positional_id() -> None:
    text = "- [ ] A step\n- [x] E2E test covers sign-in\n- ✅ all reviewed\n## Checklist\n- [ ] Item\n"
    doc = parse_tasks(text, positional_ids=True)
    assert [t.id for t in doc.tasks] == ["P0.1"]


def test_positional_ids_reach_verification_and_sync_through_the_options(tmp_path: Path) -> None:
    spec = tmp_path / "specs" / "spec-x-001"
    spec.mkdir(parents=True)
    (tmp_path / "a.py").write_text("A = 1\n")
    (spec / "tasks.md").write_text("- [ ] Add a\n  evidence: code path=a.py\n- [x] Add b\n")
    ws = Workspace(tmp_path, options=ReadOptions(positional_ids=True))
    location = SpecLocation("spec-x-001", None, "specs/spec-x-001")
    report = verify_spec(ws, location)
    assert report.statuses() == {"P0.1": "verified", "P0.2": "missing_evidence"}
    result = sync_spec_tasks(ws, location, report.statuses())
    assert result.flipped == ("P0.1", "P0.2")
    assert (spec / "tasks.md").read_text() == "- [x] Add a\n  evidence: code path=a.py\n- [ ] Add b\n"


# --- the result carries the new fields -------------------------------------------------------


def test_task_results_carry_the_dialect_fields(tmp_path: Path) -> None:
    text = "## Phase 3: Story (Priority: P1)\n- [ ] T012 [P] [US1] Make it\n- [ ]* 4.1 Maybe\n"
    report = verify_document(Workspace(tmp_path), parse_tasks(text), spec_id="s")
    first, second = (t.as_dict() for t in report.tasks)
    assert {k: first[k] for k in ("parent", "optional", "in_progress", "parallel", "story", "priority")} == {
        "parent": None, "optional": False, "in_progress": False, "parallel": True, "story": "US1",
        "priority": "P1",
    }  # fmt: skip
    assert (second["parent"], second["optional"], second["implicit_evidence"]) == ("4", True, False)


# --- properties ------------------------------------------------------------------------------

_DIALECT_LINES = st.sampled_from([
    "- [ ] T1 a", "- [x] 1. b", "  - [-] 1.1 c", "- [ ]* 1.2 d", "- ✅ **T2**: e", "* ⬜ T3 f",
    "- ✅ prose", "- [ ] no id here", "- [x] FR-001 covered by T1", "## Requirements Coverage",
    "## Phase 2: Story (Priority: P1)", "**Evidence:**", "#### Evidence", "- code: path=a.py",
    "  - test path=t.py", "| T1 | **Evidence:** code path=a.py |", "", "```", "text", "- [ ] T012 [P] [US1] g",
])  # fmt: skip
_STATUS = st.sampled_from(["verified", "not_verified", "missing_evidence"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_DIALECT_LINES, max_size=30), st.booleans(), st.dictionaries(st.text(max_size=6), _STATUS))
def test_dialects_never_raise_and_sync_changes_only_boxes(
    lines: list[str], positional: bool, extra: dict[str, str]
) -> None:
    text = "\n".join(lines)
    doc = parse_tasks(text, positional_ids=positional)
    rows = text.split("\n")
    boxes = set()
    for task in doc.tasks:
        assert rows[task.line - 1][task.box_offset] in " xX-✅⬜"
        boxes.add((task.line, task.box_offset))
    statuses = {**extra, **{t.id: "verified" if t.line % 2 else "not_verified" for t in doc.tasks}}
    result = sync_checkboxes(text, statuses, positional_ids=positional)
    assert len(result.text) == len(text)
    for number, (old, new) in enumerate(zip(rows, result.text.split("\n"), strict=True), start=1):
        changed = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
        assert all((number, i) in boxes for i in changed)
    assert sync_checkboxes(result.text, statuses, positional_ids=positional).text == result.text
