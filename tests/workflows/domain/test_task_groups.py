"""Task groups: which open tasks may be implemented at the same time."""

from __future__ import annotations

import pytest

from workflows.domain.task_groups import item_tasks, next_batch, parallel_count, task_batches
from workflows.domain.tasks_parser import parse_tasks

SPEC_KIT = """\
# Tasks: photo albums

## Phase 3.1: Setup
- [ ] T001 Create the project structure
- [ ] T002 Initialise the dependencies
- [ ] T003 [P] Configure the linter in .ruff.toml

## Phase 3.2: Tests first
- [ ] T004 [P] Contract test POST /albums in tests/contract/test_albums_post.py
- [ ] T005 [P] Contract test GET /albums in tests/contract/test_albums_get.py

## Phase 3.3: Core
- [ ] T006 [P] Album model in src/models/album.py
- [ ] T007 [P] Photo model in src/models/photo.py
- [ ] T008 POST /albums endpoint
- [ ] T009 GET /albums endpoint
"""


def shape(text: str) -> list[list[str | list[str]]]:
    return [[group.item for group in batch] for batch in task_batches(parse_tasks(text).tasks)]


def test_it_groups_spec_kit_parallel_runs_one_task_per_group():
    assert shape(SPEC_KIT) == [
        [["T001", "T002"]],  # setup runs first, in order, for one agent
        ["T003"],  # a lone [P] task is a batch of one
        ["T004", "T005"],  # a phase change ends a parallel run
        ["T006", "T007"],
        [["T008", "T009"]],
    ]
    assert parallel_count(task_batches(parse_tasks(SPEC_KIT).tasks)) == 4


def test_a_phase_marked_parallel_runs_all_its_tasks_at_once():
    text = (
        "### Phase 1: Setup\n- [ ] TSK-1 Scaffold\n\n"
        "### Phase 2: Adapters (parallel)\n- [ ] TSK-2 Postgres adapter\n- [ ] TSK-3 SQLite adapter\n"
        "- [ ] TSK-4 Memory adapter\n\n"
        "### Phase 3: Wiring\n- [ ] TSK-5 Wire the adapters\n"
    )
    assert shape(text) == [[["TSK-1"]], ["TSK-2", "TSK-3", "TSK-4"], [["TSK-5"]]]
    assert [g.tasks for g in next_batch(parse_tasks(text).tasks)] == [("TSK-1",)]


@pytest.mark.parametrize(
    "marker", ["parallel: true", "Parallel: yes", "**Parallel:** true", "<!-- parallel: true -->"]
)
def test_a_phase_that_says_parallel_true_runs_all_its_tasks_at_once(marker):
    text = (
        "### Phase 1: Setup\n- [ ] TSK-1 Scaffold\n\n"
        f"### Phase 2: Adapters\n{marker}\n\n- [ ] TSK-2 Postgres adapter\n- [ ] TSK-3 SQLite adapter\n\n"
        "### Phase 3: Wiring\n- [ ] TSK-4 Wire the adapters\n"
    )
    document = parse_tasks(text)
    assert shape(text) == [[["TSK-1"]], ["TSK-2", "TSK-3"], [["TSK-4"]]]
    assert [t.parallel for t in document.tasks] == [False, True, True, False]
    assert document.issues == ()


def test_parallel_true_below_the_phases_first_tasks_covers_them_too():
    text = (
        "### Phase 1: Setup\n- [ ] TSK-1 Scaffold\n  evidence: code path=src/a.py\n"
        "### Phase 2: Adapters\n- [ ] TSK-2 Postgres adapter\n- [ ] TSK-3 SQLite adapter\n"
        "parallel: true\n- [ ] TSK-4 Memory adapter\n"
    )
    document = parse_tasks(text)
    assert [t.parallel for t in document.tasks] == [False, True, True, True]
    assert document.tasks[0].hooks[0].path == "src/a.py"  # the open task before the phase keeps its hook
    assert shape(text) == [[["TSK-1"]], ["TSK-2", "TSK-3", "TSK-4"]]


def test_parallel_false_or_a_parallel_line_outside_a_phase_changes_nothing():
    text = "parallel: true\n- [ ] A-1 One\n- [ ] A-2 Two\n\n### Phase 2: More\nparallel: false\n- [ ] A-3 Three\n"
    document = parse_tasks(text)
    assert shape(text) == [[["A-1", "A-2", "A-3"]]]
    assert [i.message for i in document.issues] == [
        "'parallel: true' outside a phase is ignored: put it under a phase heading"
    ]
    assert document.issues[0].line == 1


def test_a_sentence_about_parallel_work_is_no_marker():
    text = "### Phase 1: All\nParallel: true to form, these go one by one.\n- [ ] A-1 One\n- [ ] A-2 Two\n"
    assert shape(text) == [[["A-1", "A-2"]]]


def test_without_parallel_tasks_everything_is_one_sequential_group():
    text = "### Phase 1: All\n- [ ] A-1 One\n- [ ] A-2 Two\n\n### Phase 2: More\n- [ ] A-3 Three\n"
    batches = task_batches(parse_tasks(text).tasks)
    assert [[g.item for g in b] for b in batches] == [[["A-1", "A-2", "A-3"]]]
    assert parallel_count(batches) == 0
    assert next_batch([]) == []


def test_a_word_parallel_elsewhere_in_a_heading_is_no_marker():
    text = "### Phase 1: Parallel uploads\n- [ ] U-1 One\n- [ ] U-2 Two\n"
    assert shape(text) == [[["U-1", "U-2"]]]


def test_items_name_their_tasks():
    assert item_tasks("T001") == ["T001"]
    assert item_tasks(["T001", "T002"]) == ["T001", "T002"]
    assert item_tasks(3) == [] and item_tasks("") == []
