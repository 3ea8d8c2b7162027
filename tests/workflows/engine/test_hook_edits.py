"""What an evidence-hook workflow may change in tasks.md (workflows.engine.hook_edits)."""

from __future__ import annotations

import pytest

from workflows.engine.hook_edits import edit_problem

BEFORE = """# Tasks

### Phase 1

- [x] T001 Add a book
- [ ] T002 Remove a book
  evidence: code path=src/x.py symbl=remove
"""


@pytest.mark.parametrize(
    "after",
    [
        BEFORE,
        BEFORE.replace(
            "- [x] T001 Add a book\n", "- [x] T001 Add a book\n  evidence: code path=src/x.py symbol=add\n"
        ),
        BEFORE.replace("symbl=remove", "symbol=remove"),  # a hook fixed
        BEFORE.replace("  evidence: code path=src/x.py symbl=remove\n", ""),  # a hook removed
        BEFORE.replace(
            "- [ ] T002 Remove a book\n", "- [ ] T002 Remove a book\n\n  - evidence: test path=t.py\n"
        ),
        BEFORE.rstrip("\n"),  # the final newline
        # The other forms the parser reads: a bold label, a list of hooks under a label.
        BEFORE.replace(
            "- [x] T001 Add a book\n", "- [x] T001 Add a book\n  **Evidence:** code path=src/x.py\n"
        ),
        BEFORE.replace(
            "- [x] T001 Add a book\n",
            "- [x] T001 Add a book\n  - Evidence:\n    - code: path=src/x.py symbol=add\n    - test path=t.py\n",
        ),
        BEFORE.replace(
            "- [x] T001 Add a book\n", "- [x] T001 Add a book\n\n#### Evidence\n\n- code: path=src/x.py\n"
        ),
    ],
)
def test_evidence_lines_and_blank_lines_may_change(after: str) -> None:
    assert edit_problem(BEFORE, after) is None


@pytest.mark.parametrize(
    ("after", "problem"),
    [
        (BEFORE.replace("- [ ] T002", "- [x] T002"), "it changed '- [ ] T002 Remove a book' into '- [x] T002 Remove a book'"),
        (BEFORE.replace("Add a book", "Add books"), "it changed '- [x] T001 Add a book' into '- [x] T001 Add books'"),
        (BEFORE + "- [ ] T003 New task\n", "it added '- [ ] T003 New task'"),
        (BEFORE.replace("- [ ] T002 Remove a book\n", ""), "it removed '- [ ] T002 Remove a book'"),
        (BEFORE.replace("- [x] T001 Add a book\n- [ ] T002 Remove a book\n", "- [ ] T002 Remove a book\n- [x] T001 Add a book\n"),
         "it changed '- [x] T001 Add a book' into '- [ ] T002 Remove a book'"),
        # A task line stays a task line, even with a hook written on it.
        (BEFORE.replace("- [x] T001 Add a book", "- [ ] T001 Add a book evidence: code path=src/x.py"),
         "it changed '- [x] T001 Add a book' into '- [ ] T001 Add a book evidence: code path=src/x.py'"),
        (BEFORE + "- [ ] T003 Ship it evidence: code path=src/x.py\n",
         "it added '- [ ] T003 Ship it evidence: code path=src/x.py'"),
        (BEFORE.replace("### Phase 1", "### Phase 1: Books"), "it changed '### Phase 1' into '### Phase 1: Books'"),
    ],
)  # fmt: skip
def test_anything_else_is_refused_with_the_first_difference(after: str, problem: str) -> None:
    assert edit_problem(BEFORE, after) == problem
