"""The `approval` step: open the gate and wait; a decision finishes the step.

A review gate (`with: {review: <agent step>}`) first takes its snapshot of the reviewed
step's work (workflows.engine.reviews), kept in the step's output for its page and API.
"""

from __future__ import annotations

from workflows.domain.texts import Text, text_to_data
from workflows.engine.executors.base import StepContext, StepResult
from workflows.engine.gates import gate_open
from workflows.engine.git_runs import GitError
from workflows.engine.reviews import is_review, review_snapshot
from workflows.models import Step
from workflows.workspace_policy import WorkspaceNotAllowed


def open_gate(context: StepContext) -> StepResult:
    step = Step.objects.get(pk=context.step_pk)
    output: dict[str, object] = {}
    if is_review(context.config):
        try:
            output["review"] = review_snapshot(context, step)
        except (GitError, WorkspaceNotAllowed) as exc:
            # The gate still opens: people can read why there is nothing to show, and decide.
            why = Text("the reviewed work cannot be read: {reason}", reason=exc.args[0])
            output["review"] = {"error": why}
    if isinstance(review := output.get("review"), dict) and isinstance(review.get("error"), Text):
        review["error_text"] = text_to_data(review["error"])  # the page says it in the reader's language
    if output:
        # Stored before the gate opens: the invitations it mails sum the review up from it.
        Step.objects.filter(pk=step.pk).update(output={**step.output, **output})
        step.output = {**step.output, **output}
    gate = gate_open(step=step, config=context.config)
    return StepResult("waiting", {"gate": gate.pk, **output})
