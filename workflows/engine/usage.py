"""What an agent says it used, read from its output.

An OpenAI-compatible endpoint sends `usage` (prompt_tokens, completion_tokens, and with
some servers a `cost`) in a chunk of its stream when asked with
`stream_options.include_usage`. A command agent may print lines of the form

    {"smartspec_usage": {"input_tokens": 1200, "output_tokens": 340, "cost_usd": 0.0123}}

(every field optional; several lines add up). Without a reported cost, the cost is the
tokens at the project's prices when it sets them; otherwise it is unknown (None).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

USAGE_KEY = "smartspec_usage"
MILLION = Decimal(1_000_000)
LARGEST = Decimal(100_000_000)  # no step costs this much: a number past it is a mistake


@dataclass
class Usage:
    """Tokens and cost one agent step reported; `reported` is False when it said nothing."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal | None = None
    reported: bool = False

    def add(self, other: Usage) -> None:
        if not other.reported:
            return
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        if other.cost is not None:
            self.cost = other.cost if self.cost is None else self.cost + other.cost
        self.reported = True

    def as_output(self) -> dict[str, Any]:
        """As a step's output holds it (JSON)."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": None if self.cost is None else str(self.cost),
            "reported": self.reported,
        }

    @classmethod
    def from_output(cls, data: object) -> Usage:
        """The usage a step's output holds (as_output), or nothing reported."""
        if not isinstance(data, dict):
            return cls()
        return cls(
            input_tokens=_count(data.get("input_tokens")),
            output_tokens=_count(data.get("output_tokens")),
            cost=_amount(data.get("cost_usd")),
            reported=bool(data.get("reported")),
        )


def usage_from_line(line: str) -> Usage | None:
    """The usage a command agent's output line reports, or None when the line is not one."""
    text = line.strip()
    if not (text.startswith("{") and USAGE_KEY in text):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get(USAGE_KEY), dict):
        return None
    body = data[USAGE_KEY]
    return Usage(
        input_tokens=_count(body.get("input_tokens")),
        output_tokens=_count(body.get("output_tokens")),
        cost=_amount(body.get("cost_usd")),
        reported=True,
    )


def usage_from_chunk(chunk: object) -> Usage | None:
    """The usage an OpenAI-compatible stream chunk carries, or None."""
    if not isinstance(chunk, dict) or not isinstance(chunk.get("usage"), dict):
        return None
    body = chunk["usage"]
    cost = body.get("cost", body.get("cost_usd"))
    return Usage(
        input_tokens=_count(body.get("prompt_tokens")),
        output_tokens=_count(body.get("completion_tokens")),
        cost=_amount(cost),
        reported=True,
    )


def priced(
    usage: Usage, *, input_per_mtok: Decimal | None, output_per_mtok: Decimal | None
) -> Decimal | None:
    """The step's cost: the reported one, else its tokens at the project's prices (a price
    not set counts only when no tokens of that direction were used), else None."""
    if usage.cost is not None:
        return usage.cost
    if not usage.reported:
        return None
    parts = []
    for tokens, price in ((usage.input_tokens, input_per_mtok), (usage.output_tokens, output_per_mtok)):
        if tokens and price is None:
            return None
        parts.append(Decimal(tokens) * (price or Decimal(0)) / MILLION)
    if input_per_mtok is None and output_per_mtok is None:
        return None
    return sum(parts, Decimal(0)).quantize(Decimal("0.000001"))


def _count(value: object) -> int:
    """A token count: a whole number ≥ 0, anything else 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(int(value), 0)


def _amount(value: object) -> Decimal | None:
    """A cost in USD: a finite number ≥ 0, anything else unknown."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value))
        if not amount.is_finite() or not 0 <= amount < LARGEST:
            return None
        return amount.quantize(Decimal("0.000001"))
    except InvalidOperation:
        return None


def usd(amount: Decimal) -> str:
    """An amount as people read it: $0.50, $1,200.00, and small ones to four places ($0.0123)."""
    if abs(amount) >= 1 or amount == amount.quantize(Decimal("0.01")):
        return f"${amount:,.2f}"
    return f"${amount:,.4f}"
