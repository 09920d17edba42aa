"""Generate a realistic, reproducible contract ledger (CSV, Parquet or JSON Lines).

Accounts arrive over the years in three size bands and sign contracts of one to three years:
monthly-billed small accounts, annual mid-market ones, enterprise deals that are often
multi-year ramps. Contracts carry add-on products, one-time implementation fees, services and
committed usage; some expand or contract mid-term (co-termed rows), a few are cancelled early.
At term end most renew (a new contract, change_type renewal, often with an uplift); the rest
churn, and some of those come back later as reactivations.

Every line carries the account's size band as `segment` (smb, mid_market, enterprise) and its
`region` (amer, emea, apac). A few accounts move up a segment at a renewal (smb to mid_market,
mid_market to enterprise): from that contract on their lines carry the new segment. These labels
are drawn from a random stream of their own, seeded from the same seed, so adding them changed
no amount or date of the ledger.

The same seed always gives the same file:

    python scripts/generate_ledger.py --contracts 500 --seed 7 --out data/sample_ledger.csv
    python scripts/generate_ledger.py --lines 1000000 --out /tmp/ledger.parquet
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

COLUMNS = (
    "contract_id",
    "account_id",
    "line_id",
    "product",
    "segment",
    "region",
    "charge_type",
    "amount",
    "amount_period",
    "list_amount",
    "start_date",
    "end_date",
    "signed_date",
    "go_live_date",
    "currency",
    "change_type",
)

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Band:
    name: str
    weight: int
    yearly_low: int
    yearly_high: int
    terms: tuple[int, ...]
    """Term lengths in months to choose from."""
    renew: float
    ramp: float


BANDS = (
    Band("smb", 60, 3_000, 15_000, (12, 12, 12, 24), 0.78, 0.0),
    Band("mid", 30, 20_000, 80_000, (12, 12, 24, 36), 0.85, 0.1),
    Band("enterprise", 10, 100_000, 400_000, (12, 24, 36, 36), 0.9, 0.45),
)

SEGMENTS = {"smb": "smb", "mid": "mid_market", "enterprise": "enterprise"}
"""The `segment` of each band's accounts when they arrive."""
UPGRADES = {"smb": ("mid_market", 0.08), "mid_market": ("enterprise", 0.12)}
"""At a renewal, the segment an account may move up to, and the chance that it does."""
REGIONS = (("amer", 50), ("emea", 35), ("apac", 15))


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_EVEN)


class Generator:
    def __init__(self, seed: int, first: date, last: date, currency: str) -> None:
        self.rng = random.Random(seed)
        # Dimension labels come from a stream of their own: they never move the amounts and dates of `rng`.
        self.labels = random.Random(f"{seed}:dimensions")
        self._segment = "smb"
        self._region = "amer"
        self.first = first
        self.last = last
        self.currency = currency
        self.contracts = 0
        self.lines = 0
        # Set by each contract for the account loop that follows it.
        self._term = 12
        self._cancelled = False

    def _row(
        self,
        contract: str,
        account: str,
        product: str,
        charge: str,
        amount: Decimal,
        period: str,
        **dates: date | str | None,
    ) -> dict[str, str]:
        self.lines += 1
        discount = self.rng.choice((0, 0, 0, 10, 15, 20))
        list_amount = "" if discount == 0 else str(money(amount * 100 / (100 - discount)))
        go_live = dates.get("go_live")
        return {
            "contract_id": contract,
            "account_id": account,
            "line_id": f"L{self.lines:08d}",
            "product": product,
            "segment": self._segment,
            "region": self._region,
            "charge_type": charge,
            "amount": str(amount),
            "amount_period": period,
            "list_amount": list_amount,
            "start_date": str(dates["start"]),
            "end_date": str(dates["end"]),
            "signed_date": str(dates["signed"]),
            "go_live_date": "" if go_live is None else str(go_live),
            "currency": self.currency,
            "change_type": str(dates["change"]),
        }

    def account(self, number: int) -> Iterator[dict[str, str]]:
        rng = self.rng
        band = rng.choices(BANDS, weights=[b.weight for b in BANDS])[0]
        account = f"A{number:06d}"
        self._segment = SEGMENTS[band.name]
        self._region = self.labels.choices([r for r, _ in REGIONS], weights=[w for _, w in REGIONS])[0]
        months_span = (self.last.year - self.first.year) * 12 + self.last.month - self.first.month
        start = add_months(self.first, rng.randrange(months_span))
        yearly = Decimal(rng.randrange(band.yearly_low, band.yearly_high, 500))
        change = "new"
        while start <= self.last:
            if change == "renewal":
                self._upgrade()
            yield from self.contract(account, band, start, yearly, change)
            end = add_months(start, self._term) - timedelta(days=1)
            if self._cancelled or rng.random() > band.renew:
                if rng.random() > 0.2:
                    return
                # A churned customer that comes back later is a reactivation, not new business.
                start = add_months(end + timedelta(days=1), rng.randint(3, 12))
                change = "new"
                continue
            start = end + timedelta(days=1)
            yearly = money(yearly * Decimal(rng.choice(("1.00", "1.03", "1.05", "1.10"))))
            change = "renewal"

    def _upgrade(self) -> None:
        """At a renewal, perhaps move the account up a segment (its prices stay those of its band)."""
        roll = self.labels.random()
        if self._segment in UPGRADES:
            upper, chance = UPGRADES[self._segment]
            if roll < chance:
                self._segment = upper

    def contract(self, account: str, band: Band, start: date, yearly: Decimal, change: str) -> Iterator[dict[str, str]]:
        rng = self.rng
        self.contracts += 1
        contract = f"C{self.contracts:07d}"
        term = rng.choice(band.terms)
        self._term = term
        self._cancelled = False
        end = add_months(start, term) - timedelta(days=1)
        signed = start - timedelta(days=rng.randint(0, 40))
        go_live = start + timedelta(days=rng.choice((0, 0, 0, 14, 30))) if band.name != "smb" else None
        dates = {"end": end, "signed": signed, "go_live": go_live, "change": change}
        if term >= 24 and rng.random() < band.ramp:
            # A ramp: one row per contract year, each step priced higher.
            for year, step in enumerate(("0.70", "1.00", "1.25")[: term // 12]):
                step_start = add_months(start, 12 * year)
                step_end = add_months(step_start, 12) - timedelta(days=1)
                yield self._row(
                    contract,
                    account,
                    "platform",
                    "recurring",
                    money(yearly * Decimal(step)),
                    "year",
                    **{**dates, "start": step_start, "end": step_end},
                )
        elif band.name == "smb":
            yield self._row(
                contract, account, "platform", "recurring", money(yearly / 12), "month", start=start, **dates
            )
        elif rng.random() < 0.2:
            yield self._row(
                contract, account, "platform", "recurring", money(yearly * term / 12), "term", start=start, **dates
            )
        else:
            yield self._row(contract, account, "platform", "recurring", yearly, "year", start=start, **dates)
        if rng.random() < 0.3:
            yield self._row(
                contract,
                account,
                "analytics",
                "recurring",
                money(yearly * Decimal("0.2")),
                "year",
                start=start,
                **dates,
            )
        if change == "new" and rng.random() < 0.4:
            fee = money(yearly * Decimal(rng.choice(("0.05", "0.10", "0.15"))))
            yield self._row(
                contract, account, "implementation", "one_time", fee, "once", start=start, **{**dates, "end": start}
            )
        if rng.random() < 0.12:
            yield self._row(
                contract,
                account,
                "advisory",
                "services",
                money(yearly * Decimal("0.02")),
                "month",
                start=start,
                **dates,
            )
        if band.name != "smb" and rng.random() < 0.1:
            yield self._row(
                contract,
                account,
                "api_calls",
                "usage_committed",
                money(yearly * Decimal("0.1")),
                "year",
                start=start,
                **dates,
            )
        if rng.random() < 0.05:
            yield self._row(
                contract,
                account,
                "api_overage",
                "usage_overage",
                money(yearly * Decimal("0.01")),
                "once",
                start=end,
                **{**dates, "end": end},
            )
        yield from self._changes(contract, account, start, end, term, yearly, dates)

    def _changes(
        self,
        contract: str,
        account: str,
        start: date,
        end: date,
        term: int,
        yearly: Decimal,
        dates: dict[str, date | str | None],
    ) -> Iterator[dict[str, str]]:
        rng = self.rng
        roll = rng.random()
        if term < 2:
            return
        at = add_months(start, rng.randint(1, term - 1))
        signed = at - timedelta(days=rng.randint(1, 20))
        common = {"end": end, "signed": signed, "go_live": None}
        if roll < 0.2:
            # Co-termed seats added mid-term.
            yield self._row(
                contract,
                account,
                "platform",
                "recurring",
                money(yearly * Decimal(rng.choice(("0.1", "0.25", "0.5")))),
                "year",
                start=at,
                change="expansion",
                **common,
            )
        elif roll < 0.28:
            yield self._row(
                contract,
                account,
                "platform",
                "recurring",
                -money(yearly * Decimal("0.2")),
                "year",
                start=at,
                change="contraction",
                **common,
            )
        elif roll < 0.32:
            self._cancelled = True
            yield self._row(
                contract, account, "platform", "recurring", -yearly, "year", start=at, change="cancellation", **common
            )


def generate(
    contracts: int | None, lines: int | None, seed: int, first: date, last: date, currency: str
) -> Iterator[dict[str, str]]:
    gen = Generator(seed, first, last, currency)
    number = 0
    while True:
        number += 1
        for row in gen.account(number):
            yield row
            if lines is not None and gen.lines >= lines:
                return
        if contracts is not None and gen.contracts >= contracts:
            return


def write(rows: Iterator[dict[str, str]], out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    count = 0
    if suffix == ".csv":
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
                count += 1
    elif suffix == ".jsonl":
        with out.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps({k: v for k, v in row.items() if v != ""}) + "\n")
                count += 1
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([(c, pa.string()) for c in COLUMNS])
        with pq.ParquetWriter(out, schema) as writer:
            batch: list[dict[str, str | None]] = []
            for row in rows:
                batch.append({k: (v or None) for k, v in row.items()})
                count += 1
                if len(batch) == 100_000:
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                    batch = []
            if batch:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    else:
        raise SystemExit(f"unsupported output {out.name}: use .csv, .parquet or .jsonl")
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--contracts", type=int, help="stop after this many contracts (whole accounts)")
    size.add_argument("--lines", type=int, help="stop after exactly this many ledger lines")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--first", type=date.fromisoformat, default=date(2023, 1, 1), help="earliest contract start")
    parser.add_argument("--last", type=date.fromisoformat, default=date(2026, 12, 31), help="latest contract start")
    parser.add_argument("--currency", default="USD")
    parser.add_argument("--out", type=Path, required=True, help="output file: .csv, .parquet or .jsonl")
    args = parser.parse_args(argv)
    rows = generate(args.contracts, args.lines, args.seed, args.first, args.last, args.currency)
    count = write(rows, args.out)
    print(f"{count} lines written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
