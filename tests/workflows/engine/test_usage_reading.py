"""Reading what an agent says it used (workflows.engine.usage)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from workflows.engine.usage import Usage, priced, usage_from_chunk, usage_from_line, usd


def test_a_usage_line_is_read_with_every_field_optional():
    found = usage_from_line('{"smartspec_usage": {"input_tokens": 12, "output_tokens": 3, "cost_usd": 0.5}}')
    assert found == Usage(12, 3, Decimal("0.5"), reported=True)
    assert usage_from_line('  {"smartspec_usage": {}}') == Usage(reported=True)


@pytest.mark.parametrize(
    "line",
    ["working on it", '{"smartspec_usage": 3}', '{"smartspec_usage": {', '{"other": {"input_tokens": 1}}'],
)
def test_other_lines_are_not_usage(line):
    assert usage_from_line(line) is None


def test_nonsense_values_count_as_nothing():
    found = usage_from_line(
        '{"smartspec_usage": {"input_tokens": -5, "output_tokens": "many", "cost_usd": "NaN"}}'
    )
    assert found == Usage(0, 0, None, reported=True)
    assert usage_from_line('{"smartspec_usage": {"cost_usd": -1}}').cost is None
    assert usage_from_line('{"smartspec_usage": {"cost_usd": 1e300}}').cost is None


def test_usage_lines_add_up():
    total = Usage()
    total.add(Usage(10, 1, None, reported=True))
    total.add(Usage())  # said nothing
    total.add(Usage(5, 2, Decimal("0.1"), reported=True))
    assert total == Usage(15, 3, Decimal("0.1"), reported=True)
    assert Usage.from_output(total.as_output()) == total


def test_a_stream_chunk_with_usage():
    chunk = {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2, "cost": 0.001}}
    assert usage_from_chunk(chunk) == Usage(7, 2, Decimal("0.001"), reported=True)
    assert usage_from_chunk({"choices": [{"delta": {"content": "x"}}]}) is None
    assert usage_from_chunk({"usage": None}) is None


def test_prices_give_a_cost_only_when_every_used_direction_has_one():
    usage = Usage(1_000_000, 500_000, None, reported=True)
    both = {"input_per_mtok": Decimal("3"), "output_per_mtok": Decimal("15")}
    assert priced(usage, **both) == Decimal("10.5")
    assert priced(usage, input_per_mtok=Decimal("3"), output_per_mtok=None) is None
    assert priced(Usage(1000, 0, None, reported=True), input_per_mtok=Decimal("3"), output_per_mtok=None) == (
        Decimal("0.003")
    )
    assert priced(Usage(), **both) is None  # nothing reported: unknown, not free
    assert priced(Usage(1, 1, Decimal("2"), reported=True), **both) == Decimal("2")  # reported wins


def test_amounts_in_words():
    assert [usd(Decimal(v)) for v in ("0.5", "0.52", "12", "1234.567", "0.0123", "0")] == [
        "$0.50",
        "$0.52",
        "$12.00",
        "$1,234.57",
        "$0.0123",
        "$0.00",
    ]
