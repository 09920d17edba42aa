"""Fuzz the three tools with generated argument sets, in memory and over stdio with the official MCP client.

Every call must come back as either a success (structured content) or a refusal whose text is
`{"error": {"code": ...}}` with a code of `ErrorCode`. Counted, and all expected to be zero:

- crashes: the client session or the server process died, or a call raised something that is not
  a JSON-RPC error;
- unstructured errors: an `is_error` result whose text is not a coded refusal, plus protocol errors;
- protocol errors: the call failed as a JSON-RPC error instead of a tool result;
- unanswered stdio lines: a request over stdio that got no answer within the timeout;
- accepted coercions: an argument set the README says must be refused (non-ASCII digits, a count
  that is fractional or negative, a limit that is not a whole number) that came back as a value;
- validator-vs-oracle disagreements: ledgers of rows generated from the README's "Ledger format"
  rules and their violations (tests/support/ledger_oracle.py, the oracle the column-rule tests use)
  are computed on by the real server in memory — inline and as CSV, JSON Lines and Parquet files —
  and every row's verdict in the answer (rejected with its row number and reasons, or used) is
  judged by the oracle: a verdict that differs, a reason that omits a faulted column, or counts
  that do not reconcile (rows read = used + rejected) is a disagreement; a ledger refused without
  a verdict on its rows is counted apart (unjudged ledgers).

The generator is seeded: the same seed tries the same argument sets. Argument sets the client itself
cannot encode (it refuses them before anything is sent) are counted apart and not tried.

Run: make bench-fuzz   (or python -m bench.fuzz --calls 10000 --seed 8 --ledgers 150)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent

from kpi_context.ontology.binding import Unit
from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.loader import load_catalog
from kpi_context.server.app import build_server
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode
from kpi_context.tools.ledger.source import DatasetRegistry, LedgerFormat
from tests.support.ledger_oracle import disagreements, generated_rows, write_ledger
from tests.support.servers import memory_client

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
SAMPLE_LEDGER = DATA_DIR / "sample_ledger.csv"
SECRET = "fuzz-signing-secret"
SERVER_COMMAND = [sys.executable, "-m", "kpi_context.server.cli"]
"""The server as the installed entry point runs it (same interpreter, so PYTHONPATH reaches it too)."""
KNOWN_CODES = {code.value for code in ErrorCode}
STDIO_TIMEOUT = 10.0
"""Seconds a stdio request may take before it counts as unanswered (the slowest ledger call takes ~1 s)."""

ClientFactory = Callable[[], AbstractAsyncContextManager[Client]]

# --- atoms -----------------------------------------------------------------------------------------

ARABIC = "١٠٠٠"  # 1000 in Arabic-Indic digits
DEVANAGARI_YEAR = "२०२६"
FULLWIDTH = "１２"
MATH_DIGITS = "𝟚𝟘𝟚𝟞"
NON_ASCII_DIGIT_STRINGS = (
    ARABIC,
    f"{DEVANAGARI_YEAR}-Q3",
    "٢٠٢٦-Q3",
    "٢٠٢٦-٠٩",
    f"{MATH_DIGITS}",
    f"{FULLWIDTH}%",
    "٧٦%",
    "२०२६-०९-३०",
    "2026-0٩",
    "1٠0",
)


def _huge(digits: int) -> int:
    """An integer of `digits` nines, built arithmetically (str() of it may exceed Python's limit)."""
    return 10**digits - 1


def deep(levels: int, leaf: Any = 1) -> Any:
    node = leaf
    for index in range(levels):
        node = [node] if index % 2 else {"a": node}
    return node


NUMBERS: tuple[Any, ...] = (
    0,
    1,
    -1,
    2,
    3,
    12,
    20,
    100,
    2.5,
    -3,
    0.76,
    76,
    1_000_000,
    -1_000_000,
    123456789.123456789,
    1e-320,
    1e308,
    -1e308,
    math.nan,
    math.inf,
    -math.inf,
    True,
    False,
    10**15,
    10**26,
    10**27,
    -(10**28),
    10**30,
    10**40,
    10**100,
    -(10**400),
    1.5e300,
)
RARE_NUMBERS: tuple[Callable[[], Any], ...] = (
    lambda: _huge(4301),
    lambda: -_huge(5000),
    lambda: _huge(1000),
)
STRINGS: tuple[str, ...] = (
    "",
    " ",
    "0",
    "12",
    "76%",
    "-5%",
    "0.5 %",
    "1e5",
    "NaN",
    "Infinity",
    "-Infinity",
    "+5",
    "0x10",
    "1_000",
    "1,000",
    " 12 ",
    "\x00",
    "a\x00b",
    "\ud7ff",
    "é" * 40,
    "x" * 300,
    "99999999999999999999999999999999999999999",
    "9" * 31 + "%",
    "null",
    "true",
    "[]",
    "{}",
    '{"a": 1}',
    *NON_ASCII_DIGIT_STRINGS,
)
PERIODS: tuple[Any, ...] = (
    "2026-Q3",
    "2026-Q2",
    "2026-09",
    "2026",
    "2025-Q4",
    "0001-Q1",
    "0001-01",
    "0001",
    "0000",
    "0000-Q1",
    "9999-Q4",
    "9999-12",
    "9999",
    "2026-13",
    "2026-00",
    "2026-Q5",
    "2026q3",
    " 2026-Q3 ",
    "Q3 2026",
    *NON_ASCII_DIGIT_STRINGS[1:4],
    {"start": "2026-07-01", "end": "2026-09-30"},
    {"start": "0001-01-01", "end": "0001-01-31"},
    {"start": "0001-01-01", "end": "9999-12-31"},
    {"start": "9999-12-01", "end": "9999-12-31"},
    {"start": "2026-09-30", "end": "2026-07-01"},
    {"start": "2026-07-01"},
    {"start": "2026-07-01", "end": "2026-09-30", "x": 1},
    {"start": "२०२६-०७-०१", "end": "2026-09-30"},
    {"start": 20260701, "end": 20260930},
)
DATES: tuple[Any, ...] = (
    "2026-09-30",
    "2025-12-31",
    "2026-06-30",
    "0001-01-01",
    "0001-12-31",
    "9999-12-31",
    "9999-01-01",
    "2026-02-29",
    "2024-02-29",
    "2026-9-30",
    "2026-09-30T00:00",
    "infinity",
    "२०२६-०९-३०",
    20260930,
)
CURRENCIES: tuple[Any, ...] = ("USD", "EUR", "GBP", "usd", "US", "USDX", "XXX", "١٢٣", "")
QUERIES: tuple[str, ...] = (
    "ARR",
    "arr",
    "sales.arr",
    "NDR",
    "ACV",
    "magic number",
    "net revenue retention",
    "churn",
    "burn multiple",
    "zzzz",
    "1",
    ARABIC,
    "sales.",
    "customers.total_customers",
    "\x00",
    "é",
    "x" * 500,
)
DOMAINS = ("sales", "customers", "finance", "operations", "product", "hr", "fundraising")
STAGES = ("preSeed", "seed", "seriesA", "seriesB", "seriesC", "public")
TIERS = ("published", "editorial")
BASIS_KEYS = {
    "value_basis": ("contracted_recurring", "booked", "cash", "x"),
    "recurring_inclusion": ("recurring_only", "all_charges", "x"),
    "annualization": ("mrr_times_12", "current_contract_year", "x"),
    "date_basis": ("signed", "go_live", "period_close"),
    "short_terms": ("annualize", "face_value"),
    "day_count": ("by_month", "actual_365", "actual_actual"),
    "discounts": ("net", "list"),
    "live_basis": ("go_live", "signed"),
    "co_term": ("change_revenue", "run_rate"),
    "churn_timing": ("end_of_paid_period", "cancellation_date"),
    "grr_cap": ("per_customer", "aggregate"),
}
LEDGER_ROW = {
    "contract_id": "C1",
    "account_id": "A1",
    "line_id": "L1",
    "charge_type": "recurring",
    "amount": "1000.00",
    "amount_period": "month",
    "start_date": "2025-01-01",
    "end_date": "2025-12-31",
    "signed_date": "2024-12-15",
    "currency": "USD",
    "change_type": "new",
}
LEDGER_VALUES: dict[str, tuple[Any, ...]] = {
    "amount": (
        "1000",
        "-500.5",
        "9" * 26,
        "9" * 32,
        "99999999999999999999999999999999.999999",
        "1e400",
        ARABIC,
        "NaN",
        1000,
        10**30,
        1.5,
    ),
    "start_date": ("0001-01-01", "9999-12-31", "2026-01-01", "infinity", "२०२५-०१-०१", "5000000-01-01"),
    "end_date": ("9999-12-31", "0001-01-01", "2026-12-31", "infinity", "294276-12-31"),
    "signed_date": ("0001-01-01", "9999-12-31", "2024-12-15"),
    "amount_period": ("month", "year", "once", "day", ""),
    "charge_type": ("recurring", "one_time", "usage_committed", "x"),
    "currency": ("USD", "EUR", "usd", ""),
    "change_type": ("new", "renewal", "expansion", "cancellation", "x"),
}


def _count_inputs(catalog: Catalog) -> dict[tuple[str, str], bool]:
    """(kpi, input) pairs whose input is a count → whether a negative is allowed (a change, not a total).

    A fraction is always refused; a negative unless the counted KPI's plausible range reaches below zero.
    """
    counts: dict[tuple[str, str], bool] = {}

    def negatives(kpi_id: str | None) -> bool:
        plausible = catalog.kpis[kpi_id].plausible_range if kpi_id else None
        return plausible is not None and (plausible.min is None or plausible.min < 0)

    for kpi in catalog:
        if kpi.binding.unit is Unit.COUNT:
            counts[(kpi.id, kpi.id)] = negatives(kpi.id)
        expression = kpi.expression
        if expression is None:
            continue
        for spec in expression.inputs:
            binding = spec.binding or (catalog.kpis[spec.kpi].binding_for(spec.variant) if spec.kpi else None)
            if binding is not None and binding.unit is Unit.COUNT:
                counts[(kpi.id, spec.name)] = negatives(spec.kpi)
    return counts


# --- the generator ---------------------------------------------------------------------------------


@dataclass
class Case:
    tool: str
    arguments: dict[str, Any]
    must_refuse: str | None = None
    """Why the README says this call must be refused (a coercion it promises never happens), if it must."""


@dataclass
class Generator:
    catalog: Catalog
    rng: random.Random
    values: list[dict[str, Any]] = field(default_factory=list)
    """Bound values returned by earlier successful computes: fed back to compare_metrics and as inputs."""

    def __post_init__(self) -> None:
        self.kpis = [kpi for kpi in self.catalog]
        self.computable = [kpi for kpi in self.kpis if kpi.expression is not None]
        self.counts = _count_inputs(self.catalog)
        self.ledger_kpis = sorted(
            {
                "sales.arr",
                "sales.mrr",
                "sales.starting_arr",
                "sales.new_business",
                "sales.net_new_arr",
                "customers.net_revenue_retention",
                "customers.gross_revenue_retention",
                "customers.total_customers",
                "customers.new_customers_added",
                "customers.logo_churn_rate",
                "sales.avg_contract_value",
                "customers.avg_contract_value",
                "customers.acv_trend_pct",
                "customers.top_customer_concentration",
                "sales.booked_acv",
            }
        )

    def pick(self, options: tuple[Any, ...] | list[Any]) -> Any:
        return options[self.rng.randrange(len(options))]

    def number(self) -> Any:
        if self.rng.random() < 0.01:
            return self.pick(RARE_NUMBERS)()
        if self.rng.random() < 0.5:
            return self.rng.choice((self.rng.randint(0, 10_000_000), round(self.rng.uniform(-1000, 100_000), 2)))
        return self.pick(NUMBERS)

    def anything(self, depth: int = 0) -> Any:
        roll = self.rng.random()
        if roll < 0.35:
            return self.number()
        if roll < 0.65:
            return self.pick(STRINGS)
        if roll < 0.72:
            return None
        if roll < 0.8 and depth < 3:
            return [self.anything(depth + 1) for _ in range(self.rng.randint(0, 3))]
        if roll < 0.88 and depth < 3:
            return {self.pick(("value", "unit", "kpi", "x", "period")): self.anything(depth + 1)}
        if roll < 0.9:
            return deep(self.pick((10, 50, 100, 150, 190, 250)))
        return self.pick(PERIODS)

    def case(self) -> Case:
        roll = self.rng.random()
        if roll < 0.25:
            case = self.lookup()
        elif roll < 0.8:
            case = self.compute()
        else:
            case = self.compare()
        self.mutate(case)
        return case

    def mutate(self, case: Case) -> None:
        """Now and then break one argument more: drop it, add an unknown one, or replace it with anything."""
        roll = self.rng.random()
        if roll < 0.08 and case.arguments:
            key = self.pick(sorted(case.arguments))
            case.arguments.pop(key)
            case.must_refuse = None
        elif roll < 0.12:
            case.arguments[self.pick(("extra", "Query", "kpi_id", "x" * 80))] = self.anything()
        elif roll < 0.25 and case.arguments:
            key = self.pick(sorted(case.arguments))
            case.arguments[key] = self.anything()
            case.must_refuse = None

    def lookup(self) -> Case:
        args: dict[str, Any] = {"query": self.pick(QUERIES) if self.rng.random() < 0.85 else self.anything()}
        must_refuse = None
        for name, allowed in (("domain", DOMAINS), ("stage", STAGES), ("tier", TIERS)):
            roll = self.rng.random()
            if roll < 0.15:
                args[name] = self.pick(allowed)
            elif roll < 0.2:
                # The official client writes NaN and Infinity as null, which for an optional filter means
                # "no filter", as the schema says; a literal NaN on the wire is refused (strict-argument tests).
                args[name] = self.pick((math.nan, math.inf, -math.inf))
            elif roll < 0.23:
                args[name] = self.anything()
        roll = self.rng.random()
        if roll < 0.2:
            args["limit"] = self.rng.randint(-2, 30)
        elif roll < 0.25:
            args["limit"] = self.pick((math.nan, math.inf, -math.inf, 2.5, 10**30, "5"))
            must_refuse = "limit is not a whole number"
        if self.rng.random() < 0.15:
            args["detail"] = self.pick(("card", "full", "FULL", "", 1))
        return Case("lookup_kpi", args, must_refuse)

    def compute(self) -> Case:
        if self.rng.random() < 0.2:
            return self.ledger_compute()
        kpi = self.pick(self.computable) if self.rng.random() < 0.9 else self.pick(self.kpis)
        args: dict[str, Any] = {"kpi": kpi.id if self.rng.random() < 0.95 else self.pick(QUERIES)}
        expression = kpi.expression
        must_refuse = None
        inputs: dict[str, Any] = {}
        names = [spec.name for spec in expression.inputs] if expression else [kpi.id]
        for name in names:
            roll = self.rng.random()
            if roll < 0.55:
                inputs[name] = self.rng.randint(1, 500_000)
            elif roll < 0.65:
                inputs[name] = self.number()
            elif roll < 0.72:
                inputs[name] = self.pick(("76%", "5%", "-5%", "100%", "0.5 %", *NON_ASCII_DIGIT_STRINGS[-4:]))
            elif roll < 0.8 and self.values:
                inputs[name] = self.pick(self.values)
            elif roll < 0.9:
                inputs[name] = {
                    "value": self.pick((self.number(), "1000", "12.5", ARABIC, "1e5", "NaN", "9" * 40)),
                    **(
                        {"unit": self.pick(("ratio", "percent", "count", "currency", "x"))}
                        if self.rng.random() < 0.5
                        else {}
                    ),
                    **({"confirm": True} if self.rng.random() < 0.3 else {}),
                }
            elif roll < 0.95:
                inputs[name] = self.anything()
            # else: the input is missing
            given = inputs.get(name)
            if (kpi.id, name) in self.counts and _not_a_count(given, negatives=self.counts[(kpi.id, name)]):
                # _brief: repr() of an integer of more than 4,300 digits raises ValueError.
                must_refuse = must_refuse or f"count input {name} is {_brief(given)!r}"
            if isinstance(given, str) and any(ch.isdigit() and not ch.isascii() for ch in given):
                must_refuse = must_refuse or f"input {name} has non-ASCII digits"
            if isinstance(given, dict) and isinstance(given.get("value"), str):
                text = given["value"]
                if any(ch.isdigit() and not ch.isascii() for ch in text):
                    must_refuse = must_refuse or f"input {name} has non-ASCII digits"
        if self.rng.random() < 0.93:
            args["inputs"] = inputs
        self._when(args)
        if isinstance(args.get("period"), str) and any(ch.isdigit() and not ch.isascii() for ch in args["period"]):
            must_refuse = "period has non-ASCII digits"
        if self.rng.random() < 0.85:
            args["currency"] = self.pick(CURRENCIES) if self.rng.random() < 0.2 else "USD"
        if self.rng.random() < 0.1:
            args["variant"] = self.pick(("default", "x", "year_over_year", "largest_customer", ""))
        if self.rng.random() < 0.1:
            key = self.pick(sorted(BASIS_KEYS))
            args["basis"] = {key: self.pick(BASIS_KEYS[key])}
        return Case("compute_kpi", args, must_refuse)

    def _when(self, args: dict[str, Any]) -> None:
        roll = self.rng.random()
        if roll < 0.7:
            args["period"] = self.pick(PERIODS[:5]) if self.rng.random() < 0.6 else self.pick(PERIODS)
        elif roll < 0.9:
            args["as_of"] = self.pick(DATES)
        elif roll < 0.95:
            args["period"] = self.pick(PERIODS)
            args["as_of"] = self.pick(DATES)

    def ledger_compute(self) -> Case:
        args: dict[str, Any] = {"kpi": self.pick(self.ledger_kpis)}
        roll = self.rng.random()
        if roll < 0.35:
            args["ledger"] = "sample"
        elif roll < 0.5:
            rates = {
                self.pick(("EUR", "GBP", "usd", "X")): self.pick(
                    (1, 0.9, 10**40, 1e300, -1, 0, math.nan, "1.1", 10**38, 1e-30)
                )
            }
            args["ledger"] = {"dataset": self.pick(("sample", "nope", "")), "fx_rates": rates}
        elif roll < 0.95:
            rows = []
            for index in range(self.rng.randint(1, 6)):
                row = dict(LEDGER_ROW, contract_id=f"C{index % 3}", account_id=f"A{index % 2}", line_id=f"L{index}")
                for column, options in LEDGER_VALUES.items():
                    if self.rng.random() < 0.15:
                        row[column] = self.pick(options)
                rows.append(row)
            args["ledger"] = {"rows": rows}
        else:
            args["ledger"] = self.anything()
        self._when(args)
        if self.rng.random() < 0.9:
            args["currency"] = "USD" if self.rng.random() < 0.9 else self.pick(CURRENCIES)
        if self.rng.random() < 0.2:
            key = self.pick(sorted(BASIS_KEYS))
            args["basis"] = {key: self.pick(BASIS_KEYS[key])}
        if self.rng.random() < 0.05:
            args["inputs"] = {"x": 1}
        return Case("compute_kpi", args)

    def compare(self) -> Case:
        if not self.values:
            left: Any = {"kpi": "sales.arr", "value": 100, "as_of": "2026-09-30", "currency": "USD"}
        else:
            left = json.loads(json.dumps(self.pick(self.values)))
        right: Any
        roll = self.rng.random()
        if roll < 0.3:
            right = {"benchmark": self.pick(("p25", "median", "p75", "p99", 1))}
        elif roll < 0.7 and self.values:
            right = json.loads(json.dumps(self.pick(self.values)))
        else:
            right = {
                "kpi": left.get("kpi", "sales.arr") if isinstance(left, dict) else "sales.arr",
                "value": self.number(),
                "period": self.pick(PERIODS),
                "currency": "USD",
            }
        for side in (left, right):
            if isinstance(side, dict) and self.rng.random() < 0.4:
                key = self.pick(("value", "period", "as_of", "currency", "kpi", "unit", "binding", "provenance"))
                side[key] = self.pick(
                    (
                        self.number(),
                        self.pick(STRINGS),
                        self.pick(PERIODS),
                        self.pick(DATES),
                        None,
                        deep(self.pick((5, 100, 190))),
                    )
                )
        return Case("compare_metrics", {"left": left, "right": right})


def _not_a_count(value: Any, *, negatives: bool) -> bool:
    """A bare number that is no count: a fraction, or a negative where the count is a total."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False  # refused anyway (it travels as null)
    return value != int(value) or (value < 0 and not negatives)


# --- the ledger validator against the README oracle -----------------------------------------------

LEDGER_FORMATS = ("inline", "csv", "jsonl", "parquet")
LEDGER_ROWS_MAX = 5
"""Rows per generated ledger at most: a value lists at most five rejected rows, so every row's verdict is shown."""
LEDGER_KPI = "customers.total_customers"
"""Computed on each generated ledger only for the rows' verdicts: a count, so no valid amount (up to 24 digits)
can make it refuse as out_of_range, which would hide the verdict."""
LEDGER_AS_OF = "2026-06-30"


@dataclass
class LedgerTally:
    ledgers: int = 0
    rows: int = 0
    rejected: int = 0
    """Rows the server rejected."""
    unusable: int = 0
    """Ledgers with no usable row (refused as ledger_invalid, every row listed): the refusal's path is judged too."""
    disagreements: int = 0
    unjudged: Counter[str] = field(default_factory=Counter)
    """Ledgers refused without a verdict on their rows, by refusal code."""
    examples: list[str] = field(default_factory=list)

    def note(self, fmt: str, found: list[str]) -> None:
        self.examples.extend(f"[{fmt}] {line}"[:400] for line in found[: max(0, 5 - len(self.examples))])


def generated_ledgers(seed: int, count: int) -> list[list[dict[str, str | None]]]:
    """`count` ledgers of 1–LEDGER_ROWS_MAX rows from the oracle's generator, all valid rows in USD.

    One currency, so a ledger is computed on rather than refused as mixed before its rows are reported.
    """
    rng = random.Random(seed)
    sizes = [rng.randint(1, LEDGER_ROWS_MAX) for _ in range(count)]
    rows = generated_rows(seed, sum(sizes), currency="USD")
    ledgers, start = [], 0
    for size in sizes:
        ledgers.append(rows[start : start + size])
        start += size
    return ledgers


def judge_ledger(rows: list[dict[str, str | None]], result: CallToolResult) -> tuple[list[str], int, str | None]:
    """(disagreements, rows rejected, refusal code when there is no verdict) for one generated ledger's answer.

    A value carries its ledger trace: counts and the rejected rows with number and reason. A ledger with no
    usable row is refused as ledger_invalid with rows read and every rejected row. Anything else has no verdict.
    """
    if not result.is_error:
        trace = (result.structured_content or {}).get("ledger") or {}
        read, used, rejected = trace.get("rows_read"), trace.get("rows_used"), trace.get("rows_rejected")
        listed = trace.get("rejections") or []
    else:
        text = result.content[0].text if result.content and isinstance(result.content[0], TextContent) else ""
        try:
            error = json.loads(text)["error"]
        except (ValueError, KeyError, TypeError):
            return [], 0, "unstructured"
        details = error.get("details") or {}
        if error.get("code") != ErrorCode.LEDGER_INVALID.value or "rows_read" not in details:
            return [], 0, str(error.get("code"))
        listed = details.get("rejections") or []
        read, used, rejected = details["rows_read"], 0, details["rows_read"]
    reasons = {int(item["row"]): str(item["reason"]) for item in listed}
    found = []
    reconciled = (
        read == len(rows)
        and isinstance(used, int)
        and isinstance(rejected, int)
        and used + rejected == read
        and len(listed) == rejected  # every rejected row is listed: a ledger here has at most five
        and len(reasons) == len(listed)  # and none twice
    )
    if not reconciled:
        found.append(
            f"counts: read {read}, used {used}, rejected {rejected}, listed {len(listed)}, of {len(rows)} rows"
        )
    if set(reasons) - set(range(1, len(rows) + 1)):
        found.append(f"row numbers {sorted(reasons)} outside 1…{len(rows)}")
    found += disagreements(rows, [(number, reasons.get(number, "")) for number in range(1, len(rows) + 1)])
    return found, len(reasons), None


async def check_ledgers(catalog: Catalog, seed: int, count: int) -> LedgerTally:
    """The same `count` generated ledgers in every format through the real server, judged by the oracle."""
    tally = LedgerTally()
    ledgers = generated_ledgers(seed, count)
    with tempfile.TemporaryDirectory(prefix="fuzz-ledgers-") as folder:
        data_dir = Path(folder)
        server = build_server(ToolContext.create(catalog, secret=SECRET.encode()), DatasetRegistry.from_cli(data_dir))
        async with Client(server) as client:
            for fmt in LEDGER_FORMATS:
                for index, rows in enumerate(ledgers):
                    ledger: str | dict[str, Any]
                    if fmt == "inline":
                        ledger = {"rows": rows}
                    else:
                        # A file of its own per ledger: a path the store has never cached, read and checked afresh.
                        ledger = f"ledger_{index}.{fmt}"
                        write_ledger(rows, data_dir / ledger, LedgerFormat(fmt))
                    arguments = {"kpi": LEDGER_KPI, "ledger": ledger, "as_of": LEDGER_AS_OF, "currency": "USD"}
                    found, rejected, code = judge_ledger(rows, await client.call_tool("compute_kpi", arguments))
                    tally.ledgers += 1
                    tally.rows += len(rows)
                    tally.rejected += rejected
                    tally.unusable += rejected == len(rows)
                    if code is not None:
                        tally.unjudged[code] += 1
                        tally.note(fmt, [f"ledger {index} refused without a verdict: {code}"])
                    tally.disagreements += len(found)
                    tally.note(fmt, found)
    return tally


# --- running ---------------------------------------------------------------------------------------


@dataclass
class Tally:
    transport: str
    tried: int = 0
    unsendable: int = 0
    ok: int = 0
    refused: int = 0
    crashes: int = 0
    unstructured: int = 0
    protocol: int = 0
    unanswered: int = 0
    accepted_coercions: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def note(self, kind: str, case: Case, detail: str) -> None:
        found = self.examples.setdefault(kind, [])
        if len(found) < 5:
            shown = _shown(case.arguments)
            found.append(f"{case.tool} {shown[:300]} → {detail[:300]}")

    @property
    def failures(self) -> int:
        return self.crashes + self.unstructured + self.protocol + self.unanswered + self.accepted_coercions


def _shown(arguments: Any) -> str:
    return json.dumps(_brief(arguments), ensure_ascii=True)


def _brief(value: Any, depth: int = 0) -> Any:
    """The arguments as printable JSON: huge integers, NaN and deep nesting summarised."""
    if depth > 12:
        return "<nested deeper>"
    if isinstance(value, dict):
        return {str(k)[:40]: _brief(v, depth + 1) for k, v in list(value.items())[:12]}
    if isinstance(value, list):
        return [_brief(v, depth + 1) for v in value[:6]]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**40:
        return f"<int of {value.bit_length() * 30103 // 100000 + 1} digits>"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str) and len(value) > 60:
        return value[:40] + f"…({len(value)} chars)"
    return value


def classify(tally: Tally, case: Case, result: CallToolResult) -> dict[str, Any] | None:
    """Counts one answered call; returns the success payload, if any."""
    if not result.is_error:
        if result.structured_content is None:
            tally.unstructured += 1
            tally.note("unstructured", case, "success without structured content")
            return None
        tally.ok += 1
        if case.must_refuse:
            tally.accepted_coercions += 1
            tally.note("accepted_coercion", case, case.must_refuse)
        return result.structured_content
    tally.refused += 1
    text = result.content[0].text if result.content and isinstance(result.content[0], TextContent) else ""
    try:
        payload = json.loads(text)
        code = payload["error"]["code"]
        assert isinstance(code, str) and code in KNOWN_CODES
        assert "Error" not in payload["error"].get("message", "") or "Binder" not in payload["error"]["message"]
    except (ValueError, KeyError, TypeError, AssertionError):
        tally.unstructured += 1
        tally.note("unstructured", case, text)
        return None
    tally.codes[code] += 1
    return None


async def run_cases(
    transport: str, connect: ClientFactory, cases: list[Case], catalog: Catalog, *, timeout: float | None
) -> Tally:
    tally = Tally(transport)
    index = 0
    while index < len(cases):
        try:
            async with connect() as client:
                while index < len(cases):
                    case = cases[index]
                    index += 1
                    if index % 1000 == 0:
                        print(f"  {transport}: {index:,} of {len(cases):,}", file=sys.stderr, flush=True)
                    if not await _one(tally, client, case, timeout):
                        break  # the session is gone: open a new one and go on
        except Exception as exc:  # noqa: BLE001 — a session that dies is what is being counted
            tally.crashes += 1
            tally.note("crash", cases[index - 1], f"session ended: {type(exc).__name__}: {exc}")
    return tally


async def _one(tally: Tally, client: Client, case: Case, timeout: float | None) -> bool:
    """Calls one case and counts it; False when the session can no longer be used."""
    try:
        json.dumps(case.arguments, allow_nan=True, default=str)
    except ValueError:
        pass  # str() of a huge int is refused by Python: the client encodes it by other means
    except RecursionError:
        tally.unsendable += 1
        return True
    tally.tried += 1
    try:
        with anyio.fail_after(timeout) if timeout else nullcontext():
            result = await client.call_tool(case.tool, case.arguments)
    except TimeoutError:
        tally.unanswered += 1
        tally.note("unanswered", case, f"no answer within {timeout} s")
        return False
    except MCPError as exc:
        tally.protocol += 1
        tally.unstructured += 1
        tally.note("protocol", case, f"{exc.error.code}: {exc.error.message}")
        return True
    except ValueError as exc:
        if "serializ" in str(exc).lower() or "recursion" in str(exc).lower():
            tally.tried -= 1
            tally.unsendable += 1  # the client refused to encode it: nothing reached the server
            return True
        tally.crashes += 1
        tally.note("crash", case, f"{type(exc).__name__}: {exc}")
        return False
    except Exception as exc:  # noqa: BLE001 — anything else ends the session
        tally.crashes += 1
        tally.note("crash", case, f"{type(exc).__name__}: {exc}")
        return False
    classify(tally, case, result)
    return True


def stdio_client() -> ClientFactory:
    params = StdioServerParameters(
        command=SERVER_COMMAND[0],
        args=[*SERVER_COMMAND[1:], "serve", "--data-dir", str(DATA_DIR), "--dataset", f"sample={SAMPLE_LEDGER}"],
        env={**os.environ, "KPI_CONTEXT_SECRET": SECRET},
    )

    def make() -> AbstractAsyncContextManager[Client]:
        return Client(params)

    return make


async def seed_values(connect: ClientFactory) -> list[dict[str, Any]]:
    """A few real bound values to hand back to compare_metrics and as inputs."""
    calls = [
        {
            "kpi": "sales.avg_contract_value",
            "inputs": {"new_logo_contract_value": 1_240_000, "new_customers_signed": 20},
            "period": period,
            "currency": "USD",
        }
        for period in ("2026-Q2", "2026-Q3")
    ] + [
        {"kpi": "sales.arr", "ledger": "sample", "as_of": "2025-12-31", "currency": "USD"},
        {"kpi": "customers.total_customers", "ledger": "sample", "as_of": "2025-12-31"},
        {"kpi": "customers.net_revenue_retention", "ledger": "sample", "period": "2025-Q4", "currency": "USD"},
        {
            # finance.gross_margin_pct was merged into sales.gross_margin, which takes revenue and COGS.
            "kpi": "sales.gross_margin",
            "inputs": {"finance.total_revenue": 100, "finance.total_cogs": 24},
            "period": "2026-Q3",
            "currency": "USD",
        },
    ]
    values = []
    async with connect() as client:
        for arguments in calls:
            result = await client.call_tool("compute_kpi", arguments)
            if not result.is_error and result.structured_content is not None:
                values.append(result.structured_content)
    return values


def generate(catalog: Catalog, seed: int, calls: int, values: list[dict[str, Any]]) -> list[Case]:
    generator = Generator(catalog, random.Random(seed), values)
    return [generator.case() for _ in range(calls)]


def report(tallies: list[Tally], ledgers: LedgerTally | None, elapsed: float, *, verbose: bool = True) -> None:
    print(
        f"{'transport':<10}{'tried':>8}{'ok':>8}{'refused':>9}{'crashes':>9}{'unstruct.':>10}{'protocol':>9}"
        f"{'unanswered':>11}{'coercions':>10}{'unsendable':>11}"
    )
    for t in tallies:
        print(
            f"{t.transport:<10}{t.tried:>8}{t.ok:>8}{t.refused:>9}{t.crashes:>9}{t.unstructured:>10}{t.protocol:>9}"
            f"{t.unanswered:>11}{t.accepted_coercions:>10}{t.unsendable:>11}"
        )
    total = sum(t.tried for t in tallies)
    print(f"calls tried: {total:,} in {elapsed:.0f} s")
    print(f"crashes: {sum(t.crashes for t in tallies)}")
    print(f"unstructured errors: {sum(t.unstructured for t in tallies)}")
    print(f"protocol errors: {sum(t.protocol for t in tallies)}")
    print(f"unanswered stdio lines: {sum(t.unanswered for t in tallies if t.transport == 'stdio')}")
    print(f"accepted coercions: {sum(t.accepted_coercions for t in tallies)}")
    codes = sum((t.codes for t in tallies), Counter())
    print("refusal codes: " + ", ".join(f"{code} {n}" for code, n in codes.most_common()))
    if ledgers is not None:
        per_format = ledgers.ledgers // len(LEDGER_FORMATS)
        print(
            f"validator-vs-oracle disagreements: {ledgers.disagreements} ({per_format:,} generated ledgers × "
            f"{len(LEDGER_FORMATS)} formats ({', '.join(LEDGER_FORMATS)}), {ledgers.rows:,} rows, "
            f"{ledgers.rejected:,} rejected by the server, {ledgers.unusable} ledgers with no usable row)"
        )
        unjudged = ", ".join(f"{code} {n}" for code, n in ledgers.unjudged.most_common()) or "none"
        print(
            f"unjudged ledgers (refused without a verdict on their rows): {sum(ledgers.unjudged.values())} ({unjudged})"
        )
    if verbose:
        for t in tallies:
            for kind, found in t.examples.items():
                for line in found:
                    print(f"  [{t.transport} {kind}] {line}")
        for line in ledgers.examples if ledgers is not None else []:
            print(f"  [ledger] {line}")


async def fuzz(
    calls: int, seed: int, transports: list[str], timeout: float = STDIO_TIMEOUT, ledgers: int = 0
) -> tuple[list[Tally], LedgerTally | None]:
    catalog = load_catalog()
    values = await seed_values(memory_client(catalog, SECRET))
    cases = generate(catalog, seed, calls, values)
    tallies = []
    for transport in transports:
        connect = memory_client(catalog, SECRET) if transport == "memory" else stdio_client()
        started = time.perf_counter()
        tally = await run_cases(transport, connect, cases, catalog, timeout=timeout if transport == "stdio" else None)
        print(f"{transport}: {tally.tried:,} calls in {time.perf_counter() - started:.0f} s", flush=True)
        tallies.append(tally)
    ledger_tally = None
    if ledgers:
        started = time.perf_counter()
        ledger_tally = await check_ledgers(catalog, seed, ledgers)
        print(f"ledgers: {ledger_tally.ledgers:,} computed in {time.perf_counter() - started:.0f} s", flush=True)
    return tallies, ledger_tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000, help="argument sets per transport")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--transport", choices=["memory", "stdio", "both"], default="both")
    parser.add_argument(
        "--ledgers", type=int, default=150, help="generated ledgers judged by the oracle, per format (0: none)"
    )
    parser.add_argument("--quiet", action="store_true", help="no examples of failures")
    parser.add_argument(
        "--timeout", type=float, default=STDIO_TIMEOUT, help="seconds before a stdio call is unanswered"
    )
    args = parser.parse_args()
    transports = ["memory", "stdio"] if args.transport == "both" else [args.transport]
    started = time.perf_counter()
    tallies, ledgers = anyio.run(fuzz, args.calls, args.seed, transports, args.timeout, args.ledgers)
    report(tallies, ledgers, time.perf_counter() - started, verbose=not args.quiet)
    ledger_failures = ledgers.disagreements + sum(ledgers.unjudged.values()) if ledgers else 0
    sys.exit(1 if any(t.failures for t in tallies) or ledger_failures else 0)


if __name__ == "__main__":
    main()
