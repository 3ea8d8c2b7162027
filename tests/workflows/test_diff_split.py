"""Side by side: a diff's rows pair each change's deleted lines with its added ones, number
both sides from the hunk headings, keep the highlighting and the escaping, and render as a
table (workflows.views.diffs.split_rows and the diff partial)."""

from __future__ import annotations

import re
from pathlib import Path

from django.template.loader import render_to_string
from django.utils import translation

from tests.workflows.test_diff_highlight import SCRIPT, changed, text_of

BEFORE = "import os\n\n\ndef greet(name):\n    return 'hi ' + name\n\n\nLIMIT = 3\n"
AFTER = "import os\n\n\ndef greet(name, loud=False):\n    text = 'hi ' + name\n    return text.upper() if loud else text\n\n\nLIMIT = 3\n"


def cells(rows: list[dict[str, object]]) -> list[tuple[object, object]]:
    """(old, new) per row as (number, text) or None; a hunk heading as ('@@', its text)."""
    found: list[tuple[object, object]] = []
    for row in rows:
        if "hunk" in row:
            found.append(("@@", text_of(str(row["hunk"]))))
        elif "note" in row:
            found.append(("\\", text_of(str(row["note"]))))
        else:
            old, new = row["old"], row["new"]
            found.append(
                (
                    None if old is None else (old[1], text_of(str(old[2]))),  # type: ignore[index]
                    None if new is None else (new[1], text_of(str(new[2]))),  # type: ignore[index]
                )
            )
    return found


def test_a_change_faces_its_new_lines_and_both_sides_are_numbered(tmp_path: Path) -> None:
    entry = changed(tmp_path, {"app.py": BEFORE}, {"app.py": AFTER}, view="split")["app.py"]
    rows = cells(entry["rows"])
    assert rows[0][0] == "@@"
    assert rows[1:] == [
        ((1, "import os"), (1, "import os")),
        ((2, ""), (2, "")),
        ((3, ""), (3, "")),
        ((4, "def greet(name):"), (4, "def greet(name, loud=False):")),
        ((5, "    return 'hi ' + name"), (5, "    text = 'hi ' + name")),
        (None, (6, "    return text.upper() if loud else text")),
        ((6, ""), (7, "")),
        ((7, ""), (8, "")),
        ((8, "LIMIT = 3"), (9, "LIMIT = 3")),
    ]
    # The code keeps its colours on both sides: `def` is a keyword left and right.
    old, new = entry["rows"][4]["old"], entry["rows"][4]["new"]
    assert (old[0], new[0]) == ("diff-del", "diff-add")
    assert '<span class="tok-k">def</span>' in old[2] and '<span class="tok-k">def</span>' in new[2]
    # The unified lines are still there for the other view.
    assert any(cls == "diff-add" for cls, _ in entry["lines"])


def test_later_hunks_are_numbered_from_their_headings(tmp_path: Path) -> None:
    before = "".join(f"line {n}\n" for n in range(1, 41))
    after = (
        before.replace("line 3\n", "line three\n")
        .replace("line 30\n", "")
        .replace("line 35\n", "line 35\nextra\n")
    )
    entry = changed(tmp_path, {"notes.txt": before}, {"notes.txt": after}, view="split")["notes.txt"]
    rows = cells(entry["rows"])
    headings = [new for old, new in rows if old == "@@"]
    assert len(headings) == 2 and headings[1].startswith("@@ -27,")
    assert ((3, "line 3"), (3, "line three")) in rows
    assert ((30, "line 30"), None) in rows  # a deleted line faces nothing
    assert (None, (35, "extra")) in rows  # one line fewer above it on the new side
    assert ((36, "line 36"), (36, "line 36")) in rows


def test_no_newline_at_the_end_is_a_note_row_and_markup_stays_escaped(tmp_path: Path) -> None:
    entry = changed(tmp_path, {"page.md": "title\n"}, {"page.md": f"title\n{SCRIPT}"}, view="split")[
        "page.md"
    ]
    rows = cells(entry["rows"])
    assert rows[-2] == (None, (2, SCRIPT))
    assert rows[-1] == ("\\", "\\ No newline at end of file")
    with translation.override("en"):
        page = render_to_string("workflows/_diff_files.html", {"files": [entry]})
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<table class="diff-split">' in page and "<pre" not in page
    numbers = re.findall(r'<td class="diff-num"[^>]*>(\d*)</td>', page)
    assert numbers == ["1", "1", "", "2"]


def test_a_binary_file_is_named_in_either_view(tmp_path: Path) -> None:
    entry = changed(tmp_path, {}, {"logo.bin": b"\x00\x01binary"}, view="split")["logo.bin"]
    with translation.override("en"):
        page = render_to_string("workflows/_diff_files.html", {"files": [entry]})
    assert "binary file" in page and "<table" not in page and "<pre" not in page


def test_the_unified_view_numbers_each_line_on_both_sides(tmp_path: Path) -> None:
    before = "".join(f"line {n}\n" for n in range(1, 41))
    after = before.replace("line 30\n", "").replace("line 35\n", "line 35\nextra\n")
    entry = changed(tmp_path, {"notes.txt": before}, {"notes.txt": after})["notes.txt"]
    numbered = {text_of(str(html)): (old, new) for _cls, old, new, html in entry["numbered"]}
    assert numbered["-line 30"] == (30, None)
    assert numbered["+extra"] == (None, 35)
    assert numbered[" line 36"] == (36, 36)
    assert all(old is None and new is None for cls, old, new, _ in entry["numbered"] if cls == "diff-hunk")
    with translation.override("en"):
        page = render_to_string("workflows/_diff_files.html", {"files": [entry]})
    assert '<span class="ln" data-old="30">30</span><span class="ln" data-new=""></span>-line 30' in page
    assert '<span class="ln" data-old="">' in page and "<table" not in page
