"""Diffs on the run page and a review gate's page show the code highlighted by language:
real files committed with real git, read back as the pages read them."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation

from tests.git_repos import sh
from workflows.engine import git_changes
from workflows.views.diff_highlight import HIGHLIGHT_MAX_LINES
from workflows.views.diffs import files_for_page

SPAN = re.compile(r'<span class="tok-[a-z0-9]+">|</span>')
SCRIPT = "<script>alert(1)</script>"


def changed(
    repo: Path,
    before: dict[str, str | bytes],
    after: dict[str, str | bytes],
    view: str = "unified",
    *,
    whole: bool = False,
) -> dict[str, Any]:
    """The pages' files (path → entry) of a commit that turns `before` into `after`, for a
    reader who sees diffs `view` (unified or split); `whole`: as the pages do, which pass
    the repository so that whole files are lexed."""
    repo.mkdir(exist_ok=True)
    sh("init", "--quiet", "--initial-branch=main", cwd=repo)
    commits = []
    for files in (before, after):
        for name, content in files.items():
            path = repo / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        sh("add", "--all", cwd=repo)
        sh("commit", "--quiet", "--allow-empty", "-m", "change", cwd=repo)
        commits.append(sh("rev-parse", "HEAD", cwd=repo).strip())
    files = git_changes.diff_files(repo, *commits)
    return {f["path"]: f for f in files_for_page(files, view, repo=repo if whole else None)}


def partial(files: dict[str, Any]) -> str:
    """The diff partial of the files, as an English reader gets it."""
    with translation.override("en"):
        return render_to_string("workflows/_diff_files.html", {"files": list(files.values())})


def line(entry: dict[str, Any], start: str) -> str:
    """The HTML of the one diff line whose text starts with `start`."""
    [found] = [shown for _, shown in entry["lines"] if text_of(shown).startswith(start)]
    return str(found)


def text_of(shown: str) -> str:
    return html.unescape(SPAN.sub("", shown))


def assert_escaped(entry: dict[str, Any]) -> None:
    """Every line reads as the diff's own text, and the only markup in it is the spans."""
    raw = entry["diff"].splitlines()
    assert [text_of(shown) for _, shown in entry["lines"]] == raw
    assert all(
        "<" not in SPAN.sub("", shown) and ">" not in SPAN.sub("", shown) for _, shown in entry["lines"]
    )


def test_it_highlights_python_keywords_strings_and_comments_on_their_lines(tmp_path: Path) -> None:
    before = "def area(r):\n    return 3 * r * r\n"
    after = 'import math\n\n\ndef area(r):\n    unit = "cm"\n    return math.pi * r * r  # exact\n'
    entry = changed(tmp_path / "repo", {"shapes.py": before}, {"shapes.py": after})["shapes.py"]
    assert '<span class="tok-kn">import</span>' in line(entry, "+import math")
    assert '<span class="tok-k">def</span> <span class="tok-nf">area</span>' in line(entry, " def area")
    assert '<span class="tok-s2">&quot;cm&quot;</span>' in line(entry, '+    unit = "cm"')
    exact = line(entry, "+    return math.pi")
    assert exact.startswith('+    <span class="tok-k">return</span>')
    assert exact.endswith('<span class="tok-c1"># exact</span>')
    assert "tok-k" not in line(entry, '+    unit = "cm"') and "tok-c1" not in line(entry, "+import math")
    # The diff's own lines keep their classes: git's header, the hunk, the +/- lines.
    classes = [cls for cls, _ in entry["lines"]]
    assert classes[:4] == ["diff-meta"] * 4 and "diff-hunk" in classes
    assert {"diff-add", "diff-del", "diff-ctx"} <= set(classes)
    assert all("tok-" not in shown for cls, shown in entry["lines"] if cls in ("diff-meta", "diff-hunk"))
    assert_escaped(entry)


def test_a_string_opened_in_the_context_colours_the_changed_lines_inside_it(tmp_path: Path) -> None:
    before = 'HELP = """\nUsage:\n  two\n  three\n"""\n'
    after = 'HELP = """\nUsage:\n  deux\n  three\n"""\n'
    entry = changed(tmp_path / "repo", {"cli.py": before}, {"cli.py": after})["cli.py"]
    # On its own, "deux" would be a name; in the string the hunk's context opened, a string.
    assert line(entry, "+  deux") == '+<span class="tok-s2">  deux</span>'
    assert line(entry, "-  two") == '-<span class="tok-s2">  two</span>'
    assert line(entry, ' """') == ' <span class="tok-s2">&quot;&quot;&quot;</span>'


DOC = "".join(f"    line {n} of the story: return if def class\n" for n in range(30))
MODULE = f'"""The module.\n\n{DOC}"""\n\n\ndef main():\n    return 0\n'


def test_a_docstring_opened_far_above_the_hunk_is_a_string_in_it(tmp_path: Path) -> None:
    after = MODULE.replace("line 20 of the story", "line twenty of the story")
    # Hunk by hunk, the change sits 20 lines below the docstring's opening, out of sight.
    hunked = changed(tmp_path / "a", {"story.py": MODULE}, {"story.py": after})["story.py"]
    assert '<span class="tok-k">return</span>' in line(hunked, "+    line twenty")
    # Lexed whole, it is the docstring it is, on both sides, and the code after it is code.
    whole = changed(tmp_path / "b", {"story.py": MODULE}, {"story.py": after}, whole=True)["story.py"]
    for start in ("+    line twenty", "-    line 20", "     line 19"):
        assert (
            line(whole, start)
            == f"{start[0]}"
            + '<span class="tok-sd">'
            + html.escape(text_of(line(whole, start))[1:], quote=True)
            + "</span>"
        ), start
    assert_escaped(whole)


def test_whole_files_colour_an_added_file_and_every_hunk(tmp_path: Path) -> None:
    after = MODULE.replace("line 2 of", "line two of").replace("return 0", 'return "done"')
    files = changed(
        tmp_path / "repo",
        {"story.py": MODULE},
        {"story.py": after, "new.py": "def f():\n    pass\n"},
        whole=True,
    )
    assert '<span class="tok-k">def</span>' in line(files["new.py"], "+def f")  # no old side
    story = files["story.py"]
    assert line(story, "+    line two of").startswith('+<span class="tok-sd">')
    assert line(story, "-    line 2 of").startswith('-<span class="tok-sd">')
    assert '<span class="tok-s2">&quot;done&quot;</span>' in line(story, '+    return "done"')
    assert '<span class="tok-k">def</span>' in line(story, " def main")
    assert_escaped(story)


def test_windows_line_ends_are_lexed_whole_too(tmp_path: Path) -> None:
    before = 'DOC = """\r\n' + "".join(f"return {n}\r\n" for n in range(10)) + '"""\r\n'
    after = before.replace("return 7", "return seven")
    entry = changed(tmp_path / "repo", {"crlf.py": before}, {"crlf.py": after}, whole=True)["crlf.py"]
    assert line(entry, "+return seven") == '+<span class="tok-s2">return seven</span>'
    assert_escaped(entry)


def test_a_file_whose_lines_python_splits_otherwise_keeps_its_own_lines(tmp_path: Path) -> None:
    """A form feed inside a line: Python sees two lines where git sees one, so the file's
    lines and the diff's numbers disagree, and each hunk is lexed on its own instead."""
    before = "X = 1  # page\x0cbreak\n" + "".join(f"V{n} = {n}\n" for n in range(10))
    after = before.replace("V7 = 7", "V7 = 'seven'")
    entry = changed(tmp_path / "repo", {"ff.py": before}, {"ff.py": after}, whole=True)["ff.py"]
    assert '<span class="tok-s1">&#x27;seven&#x27;</span>' in line(entry, "+V7")
    assert_escaped(entry)  # every line shows its own text, none its neighbour's


def test_markup_in_a_file_comes_out_escaped_highlighted_or_not(tmp_path: Path) -> None:
    files = changed(
        tmp_path / "repo",
        {},
        {
            "page.html": f"<p>hi</p>\n{SCRIPT}\n",
            "notes.unknownext": f"{SCRIPT}\n",
            "a.py": f"x = '{SCRIPT}'\n",
        },
    )
    assert '<span class="tok-nt">script</span>' in line(files["page.html"], f"+{SCRIPT}")
    for entry in files.values():
        assert_escaped(entry)
    page = partial(files)
    assert SCRIPT not in page and "<p>hi" not in page and "&amp;lt;" not in page
    assert (
        page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2
    )  # no tags to split it: the plain file, a.py


def test_a_file_of_no_known_language_is_plain_escaped_text(tmp_path: Path) -> None:
    entry = changed(tmp_path / "repo", {}, {"notes.unknownext": f"a & b\n{SCRIPT}\n"})["notes.unknownext"]
    assert line(entry, "+a & b") == "+a &amp; b"
    assert line(entry, "+<script>") == "+&lt;script&gt;alert(1)&lt;/script&gt;"
    assert all("tok-" not in shown for _, shown in entry["lines"])
    assert_escaped(entry)


def test_a_binary_file_is_named_and_a_very_long_diff_is_shown_plain(tmp_path: Path) -> None:
    long = "".join(f"value_{n} = {n}\n" for n in range(HIGHLIGHT_MAX_LINES))
    files = changed(tmp_path / "repo", {}, {"logo.png": b"\x89PNG\x00\x01\x02", "table.py": long})
    assert files["logo.png"]["binary"] and files["logo.png"]["lines"] == []
    assert files["table.py"]["big"] and all("tok-" not in shown for _, shown in files["table.py"]["lines"])
    assert_escaped(files["table.py"])
    page = partial(files)
    logo = page[page.index('data-path="logo.png"') :].split("</details>")[0]
    assert "binary file" in logo and "<pre" not in logo
