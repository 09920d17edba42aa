"""Narrative corpus benchmark: precision and recall of check_narrative on hand-written sentences.

The corpus (tests/fixtures/narrative/corpus.json) holds short drafts, good and bad, each with the
bound values it is checked against (keys of tests/fixtures/narrative/values.json, computed from the
sample ledger or from stated finance inputs) and the findings a careful reviewer expects: a code and
the text the finding is about. A finding the checker reports that no expectation matches is a false
alarm; an expectation no finding matches is a miss. Printed per finding code and overall:

- precision = true findings ÷ findings reported, recall = true findings ÷ findings expected;
- the false-alarm rate = false alarms ÷ findings reported, and the share of clean drafts (no expected
  finding) that got any finding.

Deterministic: no model, a fixed signing secret, the bundled catalog and sample ledger.

Splits: `dev` (60 drafts) was written alongside the checker; `holdout` (25) and `holdout2` (15) were
each written after the checker was frozen and run once before any change. Those first runs measured
what the checker does on prose it had not seen:

- holdout, first run: precision 58.3 %, recall 63.6 % (7 of 12 findings true, 7 of 11 expected found);
  3 of 15 clean drafts flagged. One expectation was then corrected (h19 also needs missing_pair, which
  the catalog's must-pair rule asks for), and the checker gained: a period taken from the draft's own
  period when a sentence names none, a comparison side that stands for its KPI's value when its figure
  is wrong, "compares … with", "churned" as customers churned, and inputs of computed values as backing.
- holdout2, first run: precision 83.3 %, recall 100 % (false alarms 2 of 12); 1 of 6 clean drafts
  flagged. The checker then gained: comparing words split clauses, a later period attaches to a figure
  only with no figure between, and a comparison's other side is what follows the comparing word first.

After those changes every split scores 100 %, so all three are now tuning data: new drafts are the
only honest measure of what a further change does.

    python -m bench.narrative                 # the whole corpus
    python -m bench.narrative --split holdout # only drafts written after the checker was frozen
    python -m bench.narrative --json build/narrative.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.context import ToolContext
from kpi_context.tools.ledger.engine import compute_from_ledger
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.narrative.checks import check_narrative
from kpi_context.tools.narrative.layout import sentences
from kpi_context.tools.narrative.model import Finding, FindingCode
from kpi_context.tools.trend import claim_of
from kpi_context.tools.values import BoundValue

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "narrative"
SAMPLE = ROOT / "data" / "sample_ledger.csv"
SECRET = b"narrative-corpus"


def context() -> ToolContext:
    return ToolContext.create(load_catalog(), secret=SECRET)


def corpus_values(ctx: ToolContext, path: Path = FIXTURES / "values.json") -> dict[str, BoundValue]:
    """The fixture's values by key, each checked against the number it is expected to be."""
    specs = json.loads(path.read_text(encoding="utf-8"))["values"]
    datasets = DatasetRegistry.from_cli(SAMPLE.parent, [f"sample={SAMPLE}"])
    values: dict[str, BoundValue] = {}
    for spec in specs:
        if "inputs" in spec:
            inputs = {
                name: claim_of(values[given[1:]]) if isinstance(given, str) and given.startswith("@") else given
                for name, given in spec["inputs"].items()
            }
            value = compute_from_inputs(ctx, spec["kpi"], inputs, period=spec["period"], currency="USD")
        else:
            value = compute_from_ledger(
                ctx, spec["kpi"], "sample", datasets=datasets, period=spec["period"], variant=spec.get("variant")
            )
        if value.value != Decimal(spec["expect"]):
            raise AssertionError(f"{spec['key']}: computed {value.value}, the fixture expects {spec['expect']}")
        values[spec["key"]] = value
    return values


@dataclass(frozen=True)
class Expected:
    code: FindingCode
    text: str

    def matches(self, finding: Finding) -> bool:
        return finding.code is self.code and self.text in finding.text


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    values: tuple[str, ...]
    expected: tuple[Expected, ...]
    split: str
    why: str


def load_corpus(path: Path = FIXTURES / "corpus.json") -> list[Case]:
    document = json.loads(path.read_text(encoding="utf-8"))
    return [
        Case(
            id=raw["id"],
            text=raw["text"],
            values=tuple(raw["values"]),
            expected=tuple(Expected(FindingCode(e["code"]), e["text"]) for e in raw.get("expected", [])),
            split=raw.get("split", "dev"),
            why=raw.get("why", ""),
        )
        for raw in document["cases"]
    ]


@dataclass
class Tally:
    expected: int = 0
    reported: int = 0
    true: int = 0

    @property
    def precision(self) -> float:
        return self.true / self.reported if self.reported else 1.0

    @property
    def recall(self) -> float:
        return self.true / self.expected if self.expected else 1.0


@dataclass
class Outcome:
    case: Case
    findings: list[Finding]
    missed: list[Expected] = field(default_factory=list)
    false_alarms: list[Finding] = field(default_factory=list)


def run_case(ctx: ToolContext, case: Case, values: Mapping[str, BoundValue]) -> Outcome:
    checked = check_narrative(ctx, case.text, [values[key] for key in case.values])
    unmatched = list(checked.findings)
    missed: list[Expected] = []
    for expected in case.expected:
        hit = next((f for f in unmatched if expected.matches(f)), None)
        if hit is None:
            missed.append(expected)
        else:
            unmatched.remove(hit)
    return Outcome(case, list(checked.findings), missed, unmatched)


def score(outcomes: Sequence[Outcome]) -> dict[str, Tally]:
    tallies = {code.value: Tally() for code in FindingCode} | {"overall": Tally()}
    for outcome in outcomes:
        for expected in outcome.case.expected:
            tallies[expected.code.value].expected += 1
            tallies["overall"].expected += 1
        for finding in outcome.findings:
            tallies[finding.code.value].reported += 1
            tallies["overall"].reported += 1
        for finding in outcome.findings:
            if finding not in outcome.false_alarms:
                tallies[finding.code.value].true += 1
                tallies["overall"].true += 1
    return tallies


def run(split: str | None = None) -> tuple[list[Outcome], dict[str, Tally]]:
    ctx = context()
    values = corpus_values(ctx)
    cases = [case for case in load_corpus() if split is None or case.split == split]
    outcomes = [run_case(ctx, case, values) for case in cases]
    return outcomes, score(outcomes)


def report(outcomes: Sequence[Outcome], tallies: Mapping[str, Tally]) -> dict[str, Any]:
    clean = [o for o in outcomes if not o.case.expected]
    flagged_clean = [o.case.id for o in clean if o.findings]
    overall = tallies["overall"]
    return {
        "drafts": len(outcomes),
        "sentences": sum(len(sentences(o.case.text)) for o in outcomes),
        "clean_drafts": len(clean),
        "codes": {
            code: {
                "expected": t.expected,
                "reported": t.reported,
                "true": t.true,
                "precision": t.precision,
                "recall": t.recall,
            }
            for code, t in tallies.items()
        },
        "false_alarm_rate": (overall.reported - overall.true) / overall.reported if overall.reported else 0.0,
        "clean_drafts_flagged": flagged_clean,
        "missed": [{"case": o.case.id, "code": e.code.value, "text": e.text} for o in outcomes for e in o.missed],
        "false_alarms": [
            {"case": o.case.id, "code": f.code.value, "text": f.text, "message": f.message}
            for o in outcomes
            for f in o.false_alarms
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["dev", "holdout", "holdout2"], default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    outcomes, tallies = run(args.split)
    figures = report(outcomes, tallies)
    print(
        f"narrative corpus: {figures['drafts']} drafts, {figures['sentences']} sentences "
        f"({figures['clean_drafts']} drafts clean), split={args.split or 'all'}"
    )
    print(f"{'code':<20}{'expected':>9}{'reported':>9}{'true':>6}{'precision':>11}{'recall':>8}")
    for code, row in figures["codes"].items():
        print(
            f"{code:<20}{row['expected']:>9}{row['reported']:>9}{row['true']:>6}"
            f"{row['precision']:>11.1%}{row['recall']:>8.1%}"
        )
    print(f"false alarms: {figures['false_alarm_rate']:.1%} of findings reported")
    print(f"clean drafts with any finding: {len(figures['clean_drafts_flagged'])} of {figures['clean_drafts']}")
    for miss in figures["missed"]:
        print(f"  missed      {miss['case']}: {miss['code']} {miss['text']!r}")
    for alarm in figures["false_alarms"]:
        print(f"  false alarm {alarm['case']}: {alarm['code']} {alarm['text']!r} — {alarm['message']}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
