"""A bounded run of the fuzz bench (bench/fuzz.py) in memory: every generated call gets a structured answer.

The full run (`make bench-fuzz`: 10,000 argument sets in memory and over stdio) is too long for the
suite; this one tries 1,500 sets from a fixed seed in about ten seconds, through the official client.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest
from mcp.types import CallToolResult, TextContent

from bench.fuzz import (
    LEDGER_FORMATS,
    Case,
    Generator,
    Tally,
    check_ledgers,
    classify,
    generate,
    generated_ledgers,
    judge_ledger,
    run_cases,
    seed_values,
)
from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.loader import load_catalog
from tests.support.ledgers import line
from tests.support.servers import memory_client

SEED = 8
CALLS = 1_500


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


async def test_a_fixed_seed_of_generated_calls_gets_only_structured_answers(catalog: Catalog) -> None:
    connect = memory_client(catalog)
    values = await seed_values(connect)
    # Six real bound values (two ACVs, ARR, customers, NRR, gross margin) are handed back to compare_metrics.
    assert len(values) == 6
    cases = generate(catalog, SEED, CALLS, values)
    tally = await run_cases("memory", connect, cases, catalog, timeout=None)

    assert tally.tried + tally.unsendable == CALLS
    assert tally.tried > CALLS * 0.95  # almost every set reaches the server
    assert tally.crashes == 0, tally.examples.get("crash")
    assert tally.protocol == 0, tally.examples.get("protocol")
    assert tally.unstructured == 0, tally.examples.get("unstructured")
    assert tally.accepted_coercions == 0, tally.examples.get("accepted_coercion")
    # Both outcomes occur: the generator is not only producing nonsense, nor only valid calls.
    assert tally.ok > CALLS * 0.05 and tally.refused > CALLS * 0.5
    assert tally.ok + tally.refused == tally.tried


def test_the_same_seed_generates_the_same_argument_sets(catalog: Catalog) -> None:
    first = [(c.tool, repr_safe(c.arguments)) for c in generate(catalog, SEED, 200, [])]
    again = [(c.tool, repr_safe(c.arguments)) for c in generate(catalog, SEED, 200, [])]
    other = [(c.tool, repr_safe(c.arguments)) for c in generate(catalog, SEED + 1, 200, [])]
    assert first == again
    assert first != other


def test_the_generator_covers_the_three_tools_and_the_known_hazards(catalog: Catalog) -> None:
    cases = generate(catalog, SEED, 2_000, [])
    tools = {case.tool for case in cases}
    assert tools == {"lookup_kpi", "compute_kpi", "compare_metrics"}
    flat = [repr_safe(case.arguments) for case in cases]
    assert any("nan" in text for text in flat)  # NaN somewhere
    assert any("٢٠٢٦" in text or "١٠٠٠" in text for text in flat)  # non-ASCII digits
    assert any("0001-Q1" in text for text in flat)  # the calendar's first quarter
    assert any(case.must_refuse for case in cases)  # coercions the README says are refused


def repr_safe(value: Any) -> str:
    """repr() that survives integers too long for Python to print."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {repr_safe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(repr_safe(v) for v in value) + "]"
    if isinstance(value, int) and abs(value) > 10**100:
        return "<huge int>"
    return repr(value)


def answer(text: str, *, is_error: bool = True) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=is_error)


@pytest.mark.parametrize(
    "text",
    [
        "Error executing tool compute_kpi",  # the SDK's bare message for an unexpected exception
        '{"error": {"message": "no code"}}',
        '{"error": {"code": "made_up_code", "message": "x"}}',
        "not json",
    ],
)
def test_an_error_without_a_known_code_is_counted_as_unstructured(text: str) -> None:
    tally = Tally("memory")
    classify(tally, Case("lookup_kpi", {"query": "x"}), answer(text))
    assert (tally.unstructured, tally.refused) == (1, 1)


def test_a_coded_refusal_is_counted_by_its_code() -> None:
    tally = Tally("memory")
    classify(tally, Case("lookup_kpi", {"query": "x"}), answer('{"error": {"code": "not_found", "message": "m"}}'))
    assert (tally.unstructured, tally.codes["not_found"]) == (0, 1)


def test_a_value_returned_where_the_readme_promises_a_refusal_is_counted_as_a_coercion() -> None:
    tally = Tally("memory")
    ok = CallToolResult(content=[TextContent(type="text", text="{}")], structured_content={"value": "1"})
    classify(tally, Case("lookup_kpi", {"query": "x", "domain": math.nan}, must_refuse="domain is not a number"), ok)
    assert (tally.ok, tally.accepted_coercions) == (1, 1)


def test_counts_are_known_with_whether_they_may_be_negative(catalog: Catalog) -> None:
    generator = Generator(catalog, random.Random(0))
    # New customers signed is a total: never negative. A headcount change may fall below zero.
    assert generator.counts[("sales.avg_contract_value", "new_customers_signed")] is False
    assert generator.counts[("hr.headcount_change", "hr.headcount_change")] is True


# --- the ledger validator against the README oracle, through the real server -------------------------


async def test_generated_ledgers_get_the_oracle_s_verdict_from_the_server_in_every_format(catalog: Catalog) -> None:
    tally = await check_ledgers(catalog, SEED, 12)
    assert tally.ledgers == 12 * len(LEDGER_FORMATS)
    assert tally.disagreements == 0, tally.examples
    assert not tally.unjudged, tally.examples
    # Both verdicts occur, and so does the refusal of a ledger with no usable row.
    assert 0 < tally.rejected < tally.rows
    assert tally.unusable > 0


def test_generated_ledgers_are_small_enough_for_every_verdict_to_be_listed() -> None:
    ledgers = generated_ledgers(SEED, 200)
    assert {len(rows) for rows in ledgers} == {1, 2, 3, 4, 5}
    assert ledgers == generated_ledgers(SEED, 200)


def trace(rows_read: int, rows_used: int, rejections: list[dict[str, object]]) -> CallToolResult:
    ledger = {
        "rows_read": rows_read,
        "rows_used": rows_used,
        "rows_rejected": len(rejections),
        "rejections": rejections,
    }
    return CallToolResult(content=[TextContent(type="text", text="{}")], structured_content={"ledger": ledger})


def test_a_verdict_the_oracle_disagrees_with_is_counted() -> None:
    good, bad = line(), line(end_date="infinity")
    assert judge_ledger([good, bad], trace(2, 1, [{"row": 2, "reason": "end_date 'infinity' is not a date"}])) == (
        [],
        1,
        None,
    )
    # The bad row used: the verdict differs.
    found, _, _ = judge_ledger([good, bad], trace(2, 2, []))
    assert len(found) == 1 and found[0].startswith("row 2: oracle ['end_date'], validator 'usable'")
    # Rejected, but for another column: the reason omits the faulted one.
    found, _, _ = judge_ledger([good, bad], trace(2, 1, [{"row": 2, "reason": "amount 'x' is not a decimal"}]))
    assert len(found) == 1 and "not all named" in found[0]
    # The good row rejected: the verdict differs.
    found, _, _ = judge_ledger([good], trace(1, 0, [{"row": 1, "reason": "amount"}]))
    assert len(found) == 1


def test_counts_that_do_not_reconcile_are_a_disagreement() -> None:
    good = line()
    found, _, _ = judge_ledger([good, good], trace(3, 2, []))
    assert len(found) == 1 and found[0].startswith("counts:")


def test_a_ledger_refused_without_a_verdict_is_unjudged_and_one_with_no_usable_row_is_judged() -> None:
    refusal = '{"error": {"code": "out_of_range", "message": "m"}}'
    assert judge_ledger([line()], answer(refusal)) == ([], 0, "out_of_range")
    bad = line(currency="usd")
    unusable = json.dumps(
        {
            "error": {
                "code": "ledger_invalid",
                "message": "no usable row",
                "details": {"rows_read": 1, "rejections": [{"row": 1, "reason": "currency 'usd' is not an ISO code"}]},
            }
        }
    )
    assert judge_ledger([bad], answer(unusable)) == ([], 1, None)
