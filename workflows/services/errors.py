"""The refusal every run service raises (runs, publishing, intents), apart from the
services that use it, so they can call one another without importing one another's rules."""

from __future__ import annotations


class RunError(ValueError):
    """A run cannot do what was asked; the message says why (and `field`, which input)."""

    def __init__(
        self, message: str, code: str = "invalid", field: str | None = None, run_id: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.run_id = run_id  # for a conflict with an active run: that run
