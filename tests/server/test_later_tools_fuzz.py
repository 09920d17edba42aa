"""The four later tools under generated bad arguments: every answer is a value or a structured refusal.

bench/fuzz.py covers the first three tools at scale; here each later tool gets a fixed-seed set of
mutations of one valid call (a key dropped or added, a value of the wrong type, oversized, nested
deeply, out of range) through the official client in memory.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from kpi_context.ontology.catalog import Catalog
from tests.support.results import outcome
from tests.support.servers import memory_client

VALID: dict[str, dict[str, Any]] = {
    "kpi_series": {"kpi": "sales.arr", "ledger": "sample", "start": "2026-Q1", "end": "2026-Q3", "every": "quarter"},
    "board_pack": {"period": "2026-Q3", "ledger": "sample", "currency": "USD", "inputs": {"finance.total_sm": 1}},
    "check_narrative": {"text": "ARR grew 16% to $14.1M in Q3 2026.", "values": []},
    "render_chart": {"kind": "trend", "values": [{"kpi": "sales.arr", "value": 1, "as_of": "2026-09-30"}]},
}
JUNK: tuple[Any, ...] = (
    None,
    True,
    -1,
    0,
    1e308,
    10**45,
    "",
    "x" * 5_000,
    "2026-Q5",
    "١٠٠٠",
    [],
    [None],
    {},
    {"a": {"b": {"c": {"d": {}}}}},
    {"value": "NaN"},
)


def _mutations(tool: str, rng: random.Random, count: int) -> list[dict[str, Any]]:
    valid = VALID[tool]
    found = []
    for _ in range(count):
        arguments = dict(valid)
        match rng.randrange(3):
            case 0:
                arguments.pop(rng.choice(list(arguments)))
            case 1:
                arguments[rng.choice(list(arguments))] = rng.choice(JUNK)
            case _:
                arguments[rng.choice(["zz", "Ledger", "group_by", "where", "chart", "kpis"])] = rng.choice(JUNK)
        found.append(arguments)
    return found


@pytest.mark.parametrize("tool", sorted(VALID))
async def test_every_generated_call_gets_a_value_or_a_structured_refusal(catalog: Catalog, tool: str) -> None:
    rng = random.Random(f"later-tools-{tool}")
    codes: set[str] = set()
    async with memory_client(catalog)() as client:
        for arguments in _mutations(tool, rng, 60):
            result = await client.call_tool(tool, arguments)
            if result.is_error:
                # outcome() fails the test on anything but one text block holding {"error": {"code": …}}.
                codes.add(outcome(result)[1]["error"]["code"])
            else:
                assert result.structured_content is not None, (arguments, result.content)
    # The mutations are mostly invalid: refusals must have happened, each with a stable code.
    assert codes and all(code.islower() for code in codes), codes
