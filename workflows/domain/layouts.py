"""Find the specs of a workspace, in whichever format it is written (spec_formats.py).

`discover_specs` reads the project's `ReadOptions` from the workspace: the format (or
`auto`, detected from what is on disk) and, optionally, the folder that holds the specs.

- SmartSpec and spec-kit: under `specs/`, a folder holding spec.md, plan.md or tasks.md is
  a spec; a folder whose sub-folders hold specs is a category, at any depth (`core/auth`).
  A folder named like a spec (`spec-…`, or spec-kit's `NNN-…`) that holds nothing yet is an
  empty spec (its next step is generate_spec).
- Kiro: every folder of `.kiro/specs/`; requirements.md plays spec.md, design.md plan.md.
- OpenSpec: every folder of `openspec/changes/` is a unit of work (proposal.md plays
  spec.md); `changes/archive/*` are done and `specs/<capability>/` are the current truth:
  both are listed as set aside, not as specs.

Folders whose name starts with `_` (`_archived`, `_history`) are set aside on purpose and
listed as archived, not reported as errors.

**Spec ids** are the folder names as they are on disk, case and dots kept
(`012-AddTextClip`, `v1.6-merge-import-export`), when they use only ASCII letters, digits,
`-`, `_` and single dots: such a name is safe in a URL path and in an API parameter as is,
so the id maps back to its folder with no encoding. A folder with any other name (spaces,
other scripts, `..`) is listed with a warning and not read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from workflows.domain.spec_formats import AUTO, RENAMES, SpecFormat
from workflows.domain.texts import Text
from workflows.domain.workspace import (
    SPEC_FILES,
    ScopeError,
    SetAside,
    SpecIndex,
    SpecLocation,
    UnknownSpec,
    Workspace,
    is_spec_id,
    path_problem,
)

# Where each format keeps its specs when the project names no folder.
DEFAULT_ROOTS = {
    SpecFormat.SMARTSPEC: "specs",
    SpecFormat.SPEC_KIT: "specs",
    SpecFormat.KIRO: ".kiro/specs",
    SpecFormat.OPENSPEC: "openspec",
}
# Categories nest; past this depth folders are not searched (a guard, not a layout rule).
MAX_DEPTH = 8
_SPEC_KIT_NAME_RE = re.compile(r"^\d{3,}-")


def discover_specs(workspace: Workspace) -> SpecIndex:
    """Every spec of the workspace, sorted by id, with the format it was read in."""
    found = read_format(workspace)
    root = workspace.options.specs_root or DEFAULT_ROOTS[found]
    scan = _Scan(workspace, found)
    try:
        base = workspace.resolve_text(root)
    except ScopeError as exc:
        return SpecIndex((), (f"{root}/ {exc.reason}",), found, root)
    if found is SpecFormat.OPENSPEC:
        scan.openspec(base, root)
    elif found is SpecFormat.KIRO:
        scan.flat(base, root)
    else:
        scan.tree(base, root, (), 0)
    specs = tuple(sorted(scan.found.values(), key=lambda s: s.spec_id))
    set_aside = tuple(sorted(scan.set_aside, key=lambda s: s.rel_dir))
    return SpecIndex(specs, tuple(scan.warnings), found, root, set_aside)


def find_spec(workspace: Workspace, spec_id: str) -> SpecLocation:
    """One spec by id; UnknownSpec when the workspace has none."""
    found = discover_specs(workspace).get(spec_id)
    if found is None:
        raise UnknownSpec(spec_id)
    return found


def read_format(workspace: Workspace) -> SpecFormat:
    """The format the project names, or the one detected from what is on disk."""
    named = workspace.options.format
    if named != AUTO:
        return SpecFormat(named)
    return detect_format(workspace)


def detect_format(workspace: Workspace) -> SpecFormat:
    """OpenSpec and Kiro by their folders; spec-kit by `.specify/` or `NNN-name` specs;
    SmartSpec otherwise. With a named specs root, only what is inside it counts."""
    root = workspace.options.specs_root
    if root is not None:
        return _detect_in(workspace, root)
    if workspace.is_dir("openspec/changes") or workspace.is_dir("openspec/specs"):
        return SpecFormat.OPENSPEC
    if workspace.is_dir(".kiro/specs"):
        return SpecFormat.KIRO
    if workspace.is_dir(".specify") or _numbered_majority(workspace, "specs"):
        return SpecFormat.SPEC_KIT
    return SpecFormat.SMARTSPEC


def _detect_in(workspace: Workspace, root: str) -> SpecFormat:
    if workspace.is_dir(f"{root}/changes"):
        return SpecFormat.OPENSPEC
    names = _child_names(workspace, root)
    if any(workspace.is_file(f"{root}/{name}/requirements.md") for name in names):
        return SpecFormat.KIRO
    if workspace.is_dir(".specify") or _numbered_majority(workspace, root):
        return SpecFormat.SPEC_KIT
    return SpecFormat.SMARTSPEC


def _numbered_majority(workspace: Workspace, root: str) -> bool:
    names = [n for n in _child_names(workspace, root) if not n.startswith(("_", "."))]
    numbered = [n for n in names if _SPEC_KIT_NAME_RE.match(n)]
    return bool(numbered) and len(numbered) * 2 >= len(names)


def _child_names(workspace: Workspace, rel: str) -> list[str]:
    try:
        with os.scandir(workspace.resolve_text(rel)) as entries:
            return [e.name for e in entries if e.is_dir()]
    except (ScopeError, OSError):
        return []


class _Scan:
    """One discovery: what was found, set aside and warned about."""

    def __init__(self, workspace: Workspace, spec_format: SpecFormat) -> None:
        self.workspace = workspace
        self.format = spec_format
        self.renames = RENAMES.get(spec_format, ())
        self.found: dict[str, SpecLocation] = {}
        self.set_aside: list[SetAside] = []
        self.warnings: list[str] = []

    # -- the three layouts --------------------------------------------------------------------

    def tree(self, path: str, rel: str, category: tuple[str, ...], depth: int) -> int:
        """SmartSpec and spec-kit: specs and categories at any depth; how many specs below."""
        count = 0
        for entry in self._folders(path, rel):
            child = f"{rel}/{entry.name}"
            if self._has_spec_files(entry.path):
                count += self._add(entry.name, child, category)
            elif depth < MAX_DEPTH and self.tree(entry.path, child, (*category, entry.name), depth + 1):
                count += 1
            elif self._named_like_a_spec(entry.name):
                count += self._add(entry.name, child, category)
        return count

    def flat(self, path: str, rel: str) -> None:
        """Kiro: each folder is a spec, whatever it holds so far."""
        for entry in self._folders(path, rel):
            self._add(entry.name, f"{rel}/{entry.name}", None)

    def openspec(self, path: str, rel: str) -> None:
        """OpenSpec: changes are specs; archived changes and capabilities are set aside."""
        changes = f"{rel}/changes"
        for entry in self._folders(os.path.join(path, "changes"), changes):
            child = f"{changes}/{entry.name}"
            if entry.name == "archive":
                for done in self._folders(entry.path, child):
                    self._set_aside(f"{child}/{done.name}", "archived", "an archived change: done")
            else:
                self._add(entry.name, child, None)
        capabilities = f"{rel}/specs"
        for entry in self._folders(os.path.join(path, "specs"), capabilities):
            self._set_aside(
                f"{capabilities}/{entry.name}",
                "capability",
                "a capability: the current truth, not a unit of work",
            )

    # -- the parts ----------------------------------------------------------------------------

    def _folders(self, path: str, rel: str) -> Iterator[os.DirEntry[str]]:
        """Sub-folders to read, sorted; hidden ones ignored, `_` ones set aside as archived,
        symlinks that lead outside the workspace skipped with a warning."""
        try:
            with os.scandir(path) as scan:
                entries = sorted((e for e in scan if e.is_dir()), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            child = f"{rel}/{entry.name}"
            if entry.name.startswith("."):
                continue
            if entry.name.startswith("_"):
                self._set_aside(child, "archived", "set aside on purpose (the name starts with '_')")
                continue
            if entry.is_symlink():
                try:
                    self.workspace.resolve_text(child)
                except ScopeError as exc:
                    self.warnings.append(f"{child}: skipped, {exc.reason}")
                    continue
            yield entry

    def _add(self, name: str, rel: str, category: tuple[str, ...] | None) -> int:
        if not is_spec_id(name):
            self.warnings.append(
                f"{rel}: not read, the folder name is not a usable spec id "
                "(ASCII letters, digits, '-', '_' and single dots)"
            )
            return 0
        if name in self.found:
            self.warnings.append(f"{rel}: duplicate spec id, {self.found[name].rel_dir} is used")
            return 0
        self.found[name] = SpecLocation(
            name, "/".join(category) if category else None, rel, self.format, self.renames
        )
        return 1

    def _set_aside(self, rel: str, reason: str, message: str) -> None:
        self.set_aside.append(SetAside(rel, reason, message))

    def _has_spec_files(self, path: str) -> bool:
        names = [theirs for _, theirs in self.renames] + list(SPEC_FILES)
        return any(os.path.isfile(os.path.join(path, name)) for name in names)

    def _named_like_a_spec(self, name: str) -> bool:
        if self.format is SpecFormat.SPEC_KIT:
            return bool(_SPEC_KIT_NAME_RE.match(name)) or name.startswith("spec-")
        return name.startswith("spec-")


def folder_setting_problem(value: str) -> str | None:
    """Why a folder setting (specs root, source root) cannot be used, or None. It names a
    folder inside the workspace, relative to it; whether it exists is checked when read."""
    if len(value) > 300:
        return Text("at most 300 characters")
    problem = path_problem(value)
    if problem is None:
        return None
    return Text("{problem}: give a folder relative to the workspace, e.g. docs/specs", problem=problem)


# Documents a spec page shows besides spec, plan and tasks, by format (spec-kit writes these).
EXTRA_DOCUMENTS: dict[SpecFormat, tuple[str, ...]] = {
    SpecFormat.SPEC_KIT: ("research.md", "data-model.md", "quickstart.md"),
}


def spec_documents(workspace: Workspace, location: SpecLocation) -> list[str]:
    """The workspace-relative paths of the spec's documents that exist, in reading order:
    spec, plan, tasks (by the format's names), README.md, then the format's extras and
    spec-kit's checklists/*.md."""
    names = [location.name_of(n) for n in SPEC_FILES] + ["README.md"]
    names += EXTRA_DOCUMENTS.get(location.format, ())
    found = [
        f"{location.rel_dir}/{name}" for name in names if workspace.is_file(f"{location.rel_dir}/{name}")
    ]
    checklists = f"{location.rel_dir}/checklists"
    if location.format is SpecFormat.SPEC_KIT and workspace.is_dir(checklists):
        try:
            with os.scandir(workspace.resolve_text(checklists)) as entries:
                found += sorted(
                    f"{checklists}/{e.name}" for e in entries if e.name.endswith(".md") and e.is_file()
                )
        except OSError:
            pass
    return found
