"""`spec_status` and `verify_tasks` on the workspaces people actually have: read options,
warnings per spec, set-aside folders, the evidence-hook routes, and `--only-hooked`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from workflows.domain.spec_formats import ReadOptions
from workflows.management.read_options import BadReadOption, open_workspace

from .test_commands_domain import REPO, manage, run

WORKSPACES = REPO / "tests" / "fixtures" / "workspaces"


@pytest.fixture
def hooks(tmp_path: Path) -> Path:
    return Path(shutil.copytree(WORKSPACES / "evidence-hooks", tmp_path / "hooks"))


@pytest.fixture
def formats(tmp_path: Path) -> Path:
    return Path(shutil.copytree(WORKSPACES / "cli-formats", tmp_path / "formats"))


def table(out: str) -> dict[str, list[str]]:
    """The table's rows by spec id (the header under "SPEC")."""
    rows: dict[str, list[str]] = {}
    for line in out.splitlines():
        cells = line.split()
        if len(cells) == 10 and ":" not in cells[0]:
            rows[cells[0]] = cells[1:]
        elif rows:
            break
    return rows


# --- spec_status: warnings, skipped folders, the new routes ----------------------------------


def test_spec_status_shows_warnings_per_spec_and_the_skipped_folders(hooks: Path) -> None:
    code, out, err = run("spec_status", str(hooks))
    assert code == 0 and err == ""
    rows = table(out)
    assert rows["SPEC"][-2:] == ["WARNINGS", "FORMAT"]
    assert rows["spec-e-01-no-hooks"] == [
        "NOT_STARTED", "0", "2", "3", "add_evidence_hooks", "high", "6", "0", "smartspec",
    ]  # fmt: skip
    assert rows["spec-e-02-broken-hooks"][4:8] == ["sync_tasks_checkboxes", "high", "2", "1"]
    assert rows["spec-e-05-none-verified"][7] == "1"  # a hook before any task
    assert rows["spec-e-03-mixed-drift"][4] == "sync_tasks_checkboxes"
    assert rows["spec-e-04-mixed-left"][4:7] == ["implement_tasks", "high", "20"]
    assert "spec-e-00-old" not in out.split("Skipped folders")[0]  # archived: not a spec
    assert out.splitlines()[-2:] == ["Skipped folders (not read as specs):", "  specs/_archived (archived)"]
    assert "spec-e-02-broken-hooks: sync_tasks_checkboxes because checkbox drift" in out


def test_spec_status_lists_each_warning_when_verbose(hooks: Path) -> None:
    _, out, _ = run("spec_status", str(hooks), "-v", "2")
    assert "  specs/spec-e-05-none-verified/tasks.md line 3: evidence hook before any task is ignored" in out
    assert "  specs/spec-e-02-broken-hooks/tasks.md line 9: T002: unknown key 'symbl'" in out
    assert "evidence hook before any task" not in run("spec_status", str(hooks))[1]


def test_spec_status_json_has_formats_warnings_and_skipped_folders(hooks: Path) -> None:
    code, out, _ = run("spec_status", str(hooks), "--json")
    data = json.loads(out)
    assert code == 0
    assert (data["format"], data["specs_root"]) == ("smartspec", "specs")
    assert data["skipped"] == [{"path": "specs/_archived", "reason": "archived"}]
    specs = {s["spec_id"]: s for s in data["specs"]}
    assert set(specs) == {f"spec-e-0{i}-{n}" for i, n in [
        (1, "no-hooks"), (2, "broken-hooks"), (3, "mixed-drift"), (4, "mixed-left"), (5, "none-verified")]}  # fmt: skip
    no_hooks = specs["spec-e-01-no-hooks"]
    assert no_hooks["format"] == "smartspec" and no_hooks["tasks_without_hooks"] == 3
    assert no_hooks["next"] == {
        "workflow": "add_evidence_hooks",
        "reason": "none of the 3 tasks has an evidence hook: point each at the code that implements it",
        "priority": "high",
        "estimate_minutes": 6,
    }
    broken = specs["spec-e-02-broken-hooks"]
    assert broken["invalid_hooks"] == 2 and broken["invalid_hook_tasks"] == ["T002", "T003"]
    assert broken["warning_count"] == 1 and broken["parse_issues"][0]["line"] == 9
    assert specs["spec-e-05-none-verified"]["parse_issues"][0]["severity"] == "warning"


# --- spec_status: read options ---------------------------------------------------------------


def test_spec_status_detects_the_format_or_takes_it(formats: Path) -> None:
    _, out, _ = run("spec_status", str(formats))
    assert list(table(out)) == ["SPEC", "cart-feature"] and table(out)["cart-feature"][-1] == "kiro"
    _, out, _ = run("spec_status", str(formats), "--format", "smartspec")
    assert list(table(out)) == ["SPEC", "spec-local-001"] and table(out)["spec-local-001"][-1] == "smartspec"
    code, out, _ = run("spec_status", str(formats), "--format", "kiro", "--json")
    data = json.loads(out)
    assert code == 0 and data["format"] == "kiro" and data["specs_root"] == ".kiro/specs"
    assert [(s["spec_id"], s["format"]) for s in data["specs"]] == [("cart-feature", "kiro")]


@pytest.mark.parametrize("root", ["docs/specs", "docs/specs/", "ABSOLUTE"])
def test_spec_status_reads_another_specs_root(formats: Path, root: str) -> None:
    given = str(formats / "docs/specs") if root == "ABSOLUTE" else root
    code, out, _ = run("spec_status", str(formats), "--specs-root", given, "--json")
    data = json.loads(out)
    assert code == 0 and data["specs_root"] == "docs/specs"
    assert [s["spec_id"] for s in data["specs"]] == ["spec-docs-001"]
    assert data["specs"][0]["next"]["workflow"] == "add_evidence_hooks"
    assert data["specs"][0]["next"]["reason"] == (
        "the one task has no evidence hook: point it at the code that implements it"
    )


def test_every_read_option_reaches_the_workspace(formats: Path) -> None:
    ws = open_workspace(
        str(formats),
        {
            "format": "spec-kit",
            "specs_root": "docs/specs",
            "implicit_evidence": False,
            "source_roots": ["src", str(formats / "docs")],
            "positional_ids": True,
        },
    )
    assert ws.options == ReadOptions(
        format="spec-kit",
        specs_root="docs/specs",
        implicit_evidence=False,
        source_roots=("src", "docs"),
        positional_ids=True,
    )
    assert open_workspace(str(formats), {}).options == ReadOptions()


@pytest.mark.parametrize("command", ["spec_status", "verify_tasks"])
def test_the_commands_take_every_read_option(formats: Path, command: str) -> None:
    args = [command, str(formats)] + (["spec-docs-001"] if command == "verify_tasks" else [])
    flags = ["--format", "smartspec", "--specs-root", "docs/specs", "--no-implicit-evidence",
             "--source-root", "src", "--source-root", "docs", "--positional-ids", "--json"]  # fmt: skip
    code, out, err = run(*args, *flags)
    assert code == 0, err
    data = json.loads(out)
    found = data["spec_id"] if command == "verify_tasks" else data["specs"][0]["spec_id"]
    assert found == "spec-docs-001"
    code, _, _ = run(*args, "--specs-root", "docs/specs", "--implicit-evidence", "--json")
    assert code in (0, 1)  # whatever the evidence says, the option is accepted


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--format", "markdown"],
         "unknown format 'markdown' (choose from: auto, smartspec, spec-kit, kiro, openspec)"),
        (["--specs-root", "../elsewhere"], "--specs-root ../elsewhere: '..' is not allowed in paths"),
        (["--specs-root", "/etc"], "--specs-root /etc: outside the workspace"),
        (["--specs-root", "no/such/folder"], "--specs-root no/such/folder: no such folder in the workspace"),
        (["--source-root", "src", "--source-root", "/usr"], "--source-root /usr: outside the workspace"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["spec_status", "verify_tasks"])
def test_a_bad_read_option_is_one_line_and_exit_2(
    formats: Path, command: str, flags: list[str], message: str
) -> None:
    args = [command, str(formats)] + (["spec-docs-001"] if command == "verify_tasks" else [])
    code, out, err = run(*args, *flags)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"{command}: {message}")


def test_a_specs_root_through_a_symlink_out_of_the_workspace_is_refused(
    formats: Path, tmp_path: Path
) -> None:
    (tmp_path / "outside").mkdir()
    (formats / "linked").symlink_to(tmp_path / "outside")
    code, _, err = run("spec_status", str(formats), "--specs-root", "linked")
    assert code == 2 and "--specs-root linked: resolves outside the workspace" in err
    with pytest.raises(BadReadOption):
        open_workspace(str(formats), {"specs_root": "linked"})


def test_the_real_command_line_refuses_a_bad_format_in_one_line(formats: Path) -> None:
    done = manage("spec_status", str(formats), "--format", "nope")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "spec_status: unknown format 'nope' (choose from: auto, smartspec, spec-kit, kiro, openspec)"
    ]


# --- verify_tasks --only-hooked -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec_id", "plain", "only_hooked"),
    [
        ("spec-e-01-no-hooks", 1, 0),  # T001, T002 checked, no hooks at all
        ("spec-e-03-mixed-drift", 1, 0),  # T002 checked, no hook; T001 verified
        ("spec-e-02-broken-hooks", 1, 1),  # T002 checked, its hook is malformed
        ("spec-e-04-mixed-left", 0, 0),  # nothing checked is unverified
    ],
)
def test_only_hooked_fails_only_on_tasks_with_hooks(
    hooks: Path, spec_id: str, plain: int, only_hooked: int
) -> None:
    assert run("verify_tasks", str(hooks), spec_id)[0] == plain
    assert run("verify_tasks", str(hooks), spec_id, "--only-hooked")[0] == only_hooked


def test_only_hooked_still_reports_the_tasks_without_hooks(hooks: Path) -> None:
    code, out, _ = run("verify_tasks", str(hooks), "spec-e-03-mixed-drift", "--only-hooked")
    assert code == 0
    assert "  [x] T002  missing_evidence  no evidence hook under this task" in out
    assert "Checked but not verified: T002" in out
    assert "Not failing, no evidence hook (--only-hooked): T002" in out
    code, out, _ = run("verify_tasks", str(hooks), "spec-e-03-mixed-drift", "--only-hooked", "--json")
    data = json.loads(out)
    assert code == 0 and data["only_hooked"] is True and data["failing"] == [] and data["ok"] is True
    assert data["drift"]["checked_not_verified"] == ["T002"]


def test_without_only_hooked_the_json_names_every_failing_task(hooks: Path) -> None:
    code, out, _ = run("verify_tasks", str(hooks), "spec-e-02-broken-hooks", "--json")
    data = json.loads(out)
    assert code == 1 and data["only_hooked"] is False and data["failing"] == ["T002"] and data["ok"] is False


def test_only_hooked_on_the_real_command_line(hooks: Path) -> None:
    def exit_code(*flags: str) -> int:
        return manage("verify_tasks", str(hooks), "spec-e-03-mixed-drift", *flags).returncode

    assert (exit_code(), exit_code("--only-hooked")) == (1, 0)
