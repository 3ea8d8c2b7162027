"""The system's lines in an approval gate's history, and a gate's outcome, kept as the
sentences they were made from (workflows.domain.texts.Text): the English is stored as it
is (the API, emails and the audit show it) and the sentence beside it, so a page says it
in the reader's language (ApprovalEntry.comment_sentence, ApprovalGate.outcome_sentence)."""

from __future__ import annotations

from workflows.domain.texts import sentence_data
from workflows.models import ApprovalEntry, ApprovalGate


def gate_note(gate: ApprovalGate, sentence: str) -> ApprovalEntry:
    """A line of the system's in the gate's history."""
    return ApprovalEntry.objects.create(
        gate=gate,
        kind=ApprovalEntry.Kind.SYSTEM,
        channel=ApprovalEntry.Channel.SYSTEM,
        comment=str(sentence),
        comment_text=sentence_data(sentence),
    )
