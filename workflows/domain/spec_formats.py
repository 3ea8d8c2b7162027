"""The spec formats the Autopilot reads, and how a project asks for one to be read.

Teams arrive with specs written for different tools. Each format keeps the same three
documents under other names and places:

| format      | where a spec lives                               | spec            | plan      | tasks    |
|-------------|--------------------------------------------------|-----------------|-----------|----------|
| `smartspec` | `specs/<id>/`, categories at any depth           | spec.md         | plan.md   | tasks.md |
| `spec-kit`  | `specs/NNN-name/` (+ `checklists/*.md`)          | spec.md         | plan.md   | tasks.md |
| `kiro`      | `.kiro/specs/<name>/`                            | requirements.md | design.md | tasks.md |
| `openspec`  | `openspec/changes/<id>/` (a change is the unit)  | proposal.md     | design.md | tasks.md |

`ReadOptions` travels with a `Workspace` (workflows.domain.workspace), so discovery,
parsing, verification and status all read the same project settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SpecFormat(StrEnum):
    SMARTSPEC = "smartspec"
    SPEC_KIT = "spec-kit"
    KIRO = "kiro"
    OPENSPEC = "openspec"

    @property
    def label(self) -> str:
        return {"smartspec": "SmartSpec", "spec-kit": "spec-kit", "kiro": "Kiro", "openspec": "OpenSpec"}[
            self
        ]


_LABELS = {"smartspec": "SmartSpec", "spec-kit": "spec-kit", "kiro": "Kiro", "openspec": "OpenSpec"}
AUTO = "auto"
FORMAT_CHOICES = (AUTO, *(f.value for f in SpecFormat))
# Formats whose tasks rarely carry `evidence:` hooks: a task that names an existing file
# counts as implicit evidence unless the project turns it off.
IMPLICIT_BY_DEFAULT = frozenset({SpecFormat.SPEC_KIT, SpecFormat.KIRO, SpecFormat.OPENSPEC})


@dataclass(frozen=True)
class ReadOptions:
    """How one project's workspace is read; the defaults read any workspace sensibly."""

    format: str = AUTO  # AUTO or a SpecFormat value
    specs_root: str | None = None  # a workspace-relative folder that holds the specs
    implicit_evidence: bool | None = None  # None: on for IMPLICIT_BY_DEFAULT formats
    source_roots: tuple[str, ...] = ()  # folders implicit paths are also tried under
    positional_ids: bool = False  # give id-less task items a stable positional id

    def implicit_for(self, found: SpecFormat) -> bool:
        """Whether implicit evidence applies to a spec read in format `found`."""
        if self.implicit_evidence is not None:
            return self.implicit_evidence
        return found in IMPLICIT_BY_DEFAULT


DEFAULT_OPTIONS = ReadOptions()

# SmartSpec's names for a spec's documents, as each format calls them.
RENAMES: dict[SpecFormat, tuple[tuple[str, str], ...]] = {
    SpecFormat.KIRO: (("spec.md", "requirements.md"), ("plan.md", "design.md")),
    SpecFormat.OPENSPEC: (("spec.md", "proposal.md"), ("plan.md", "design.md")),
}
# Formats in which a spec needs no plan: OpenSpec writes design.md only when a change needs it.
PLAN_OPTIONAL = frozenset({SpecFormat.OPENSPEC})


def document_name(spec_format: str, name: str) -> str:
    """What `spec_format` calls SmartSpec's document `name` (spec.md, plan.md, tasks.md)."""
    renames = RENAMES.get(SpecFormat(spec_format), ())
    return next((theirs for ours, theirs in renames if ours == name), name)
