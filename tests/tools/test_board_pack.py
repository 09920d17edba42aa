"""The board pack on a small hand-made ledger: every figure worked out by hand below.

Accounts (yearly recurring contracts, USD, live on their start date):
- A1: 100,000 for 2025; renewed at 120,000 for 2026 (signed 2025-12-15).
- A2: 60,000 from 2025-07-01 to 2026-06-30; renewed at 72,000 from 2026-07-01 (signed 2026-06-15).
- A3: 36,000 from 2025-09-01 to 2026-08-31; not renewed (churns in Q3 2026).
- A4: new logo, 48,000 from 2026-08-01 (signed 2026-07-20).
- A5: new logo, 30,000 from 2026-10-01 (signed 2026-09-15): contracted at the Q3 close, not yet live.

ARR (live recurring run-rate):
- 2025-09-30: A1 100,000 + A2 60,000 + A3 36,000 = 196,000
- 2026-06-30: A1 120,000 + A2 60,000 + A3 36,000 = 216,000
- 2026-09-30: A1 120,000 + A2 72,000 + A4 48,000 = 240,000
QoQ growth (240,000 − 216,000) ÷ 216,000 = 11.11 %; YoY (240,000 − 196,000) ÷ 196,000 = 22.45 %.
Bridge Q3 2026: 216,000 + new 48,000 (A4) + expansion 12,000 (A2) − churn 36,000 (A3) = 240,000; net new 24,000.
NRR, 12 months to 2026-09-30, cohort live on 2025-09-30 (196,000): now A1 120,000 + A2 72,000 + A3 0
= 192,000 → 97.96 %. GRR capped per customer: min(120k, 100k) + min(72k, 60k) + 0 = 160,000 → 81.63 %.
Logo churn: 1 of the 3 cohort accounts gone → 33.33 %.
New-logo ACV Q3 2026 (signed in the quarter, TCV ÷ term): (48,000 + 30,000) ÷ 2 = 39,000.
Blended ACV: 240,000 ÷ 3 live accounts = 80,000 at the close; 216,000 ÷ 3 = 72,000 at 2026-06-30.
CARR at the close: 240,000 + A5's 30,000 = 270,000.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.board_pack import FINANCE_SECTION, LEDGER_SECTION, BoardPack, CompareTo, board_pack
from kpi_context.tools.compare import Direction
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.trend import Change
from kpi_context.tools.values import ValueClaim
from tests.support.ledgers import line


def _contract(contract: str, account: str, amount: str, start: str, end: str, signed: str, kind: str) -> dict[str, Any]:
    return line(
        contract_id=contract,
        account_id=account,
        line_id=f"L-{contract}",
        amount=amount,
        start_date=start,
        end_date=end,
        signed_date=signed,
        change_type=kind,
    )


ROWS = [
    _contract("C1", "A1", "100000", "2025-01-01", "2025-12-31", "2024-12-15", "new"),
    _contract("C1R", "A1", "120000", "2026-01-01", "2026-12-31", "2025-12-15", "renewal"),
    _contract("C2", "A2", "60000", "2025-07-01", "2026-06-30", "2025-06-20", "new"),
    _contract("C2R", "A2", "72000", "2026-07-01", "2027-06-30", "2026-06-15", "renewal"),
    _contract("C3", "A3", "36000", "2025-09-01", "2026-08-31", "2025-08-20", "new"),
    _contract("C4", "A4", "48000", "2026-08-01", "2027-07-31", "2026-07-20", "new"),
    _contract("C5", "A5", "30000", "2026-10-01", "2027-09-30", "2026-09-15", "new"),
]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def ctx(catalog: Catalog) -> ToolContext:
    return ToolContext.create(catalog, secret=b"pack-tests")


@pytest.fixture(scope="module")
def pack(ctx: ToolContext) -> BoardPack:
    return board_pack(ctx, "2026-Q3", datasets=DatasetRegistry(data_dir=None), ledger={"rows": ROWS}, currency="USD")


def _item(pack: BoardPack, kpi: str) -> Any:
    return next(item for item in pack.items if item.kpi == kpi)


@pytest.mark.parametrize(
    ("kpi", "expected"),
    [
        ("sales.arr", "240000.00"),
        ("sales.arr_growth_qoq", "11.11"),
        ("sales.growth_rate_yoy", "22.45"),
        ("sales.net_new_arr", "24000.00"),
        ("customers.net_revenue_retention", "97.96"),
        ("customers.gross_revenue_retention", "81.63"),
        ("customers.logo_churn_rate", "33.33"),
        ("sales.avg_contract_value", "39000.00"),
        ("customers.avg_contract_value", "80000.00"),
        ("sales.carr", "270000.00"),
    ],
)
def test_every_ledger_kpi_of_the_pack_is_the_hand_computed_figure(pack: BoardPack, kpi: str, expected: str) -> None:
    assert _item(pack, kpi).value == Decimal(expected)


def test_the_blended_acv_trend_is_the_change_from_the_prior_close(pack: BoardPack) -> None:
    # (80,000 − 72,000) ÷ 72,000 = 11.11 %
    assert _item(pack, "customers.acv_trend_pct").value == Decimal("11.11")


def test_the_bridge_lines_add_up_to_the_closing_arr(pack: BoardPack) -> None:
    assert pack.bridge is not None
    amounts = {line.line: line.amount for line in pack.bridge.lines}
    assert amounts == {
        "Opening ARR": Decimal("216000"),
        "New business": Decimal("48000"),
        "Expansion": Decimal("12000"),
        "Reactivation": Decimal("0"),
        "Contraction": Decimal("0"),
        "Churn": Decimal("-36000"),
    }
    assert sum(amounts.values()) == pack.bridge.closing == Decimal("240000")
    assert pack.bridge.reconciles


def test_arr_changes_against_the_prior_quarter_and_year_are_governed(pack: BoardPack) -> None:
    changes = _item(pack, "sales.arr").changes
    quarter, year = changes[CompareTo.PRIOR_PERIOD], changes[CompareTo.PRIOR_YEAR]
    assert isinstance(quarter, Change) and isinstance(year, Change)
    # +24,000 on 216,000 is +11.11 %; +44,000 on 196,000 is +22.45 %.
    assert quarter.text == "+$24,000 (+11.11%)" and quarter.direction is Direction.BETTER
    assert year.text == "+$44,000 (+22.45%)"


def test_each_change_carries_a_governed_line_to_quote(pack: BoardPack) -> None:
    quarter = _item(pack, "sales.arr").changes[CompareTo.PRIOR_PERIOD]
    assert isinstance(quarter, Change)
    assert quarter.label == "ARR — live recurring run-rate, as of 2026-09-30 vs as of 2026-06-30: +$24,000 (+11.11%)"


def test_nrr_moves_in_percentage_points(pack: BoardPack) -> None:
    # A quarter earlier (12 months to 2026-06-30) the cohort of 2025-06-30 was A1 alone (100,000), at 120,000 a
    # year later: NRR 120 %. 97.96 − 120 = −22.04 points, and a fall in NRR is worse.
    quarter = _item(pack, "customers.net_revenue_retention").changes[CompareTo.PRIOR_PERIOD]
    assert isinstance(quarter, Change)
    assert quarter.text == "-22.04 percentage points" and quarter.direction is Direction.WORSE


def test_a_change_against_a_period_with_no_value_says_why(pack: BoardPack) -> None:
    # 12 months to 2025-09-30 open on 2024-09-30, when no account was live: that NRR is undefined.
    year = _item(pack, "customers.net_revenue_retention").changes[CompareTo.PRIOR_YEAR]
    assert isinstance(year, str) and year.startswith("no value for 12 months to Sep 2025")


def test_every_item_names_the_kpis_it_must_be_read_with(pack: BoardPack, catalog: Catalog) -> None:
    for item in pack.items:
        assert item.pair_with == list(catalog.kpis[item.kpi].must_pair_with)


def test_the_catalog_and_ledger_counts_are_stated_once_at_the_top(pack: BoardPack, catalog: Catalog) -> None:
    assert pack.provenance.catalog_version == catalog.version
    assert pack.ledger is not None and (pack.ledger.rows_read, pack.ledger.rows_rejected) == (7, 0)
    dumped = pack.model_dump(mode="json", exclude_defaults=True)
    assert all("provenance" not in item and "ledger" not in item for item in dumped["items"])


def test_without_finance_inputs_each_finance_kpi_is_listed_with_what_is_missing(pack: BoardPack) -> None:
    missing = {entry.kpi: entry.missing for entry in pack.not_computable}
    assert set(missing) >= {"sales.magic_number", "finance.runway_months", "finance.burn_multiple"}
    assert not any(item.kpi in missing for item in pack.items)
    # Runway needs cash and net burn; neither comes from a ledger, so both are named, for the pack's quarter.
    assert any("finance.net_burn_rate" in text and "Q3 2026" in text for text in missing["finance.runway_months"])


def test_finance_kpis_are_computed_from_the_given_figures_and_the_ledger(ctx: ToolContext) -> None:
    prior = ValueClaim.model_validate({"value": 50_000, "period": {"start": "2026-04-01", "end": "2026-06-30"}})
    pack = board_pack(
        ctx,
        "2026-Q3",
        datasets=DatasetRegistry(data_dir=None),
        ledger={"rows": ROWS},
        currency="USD",
        inputs={
            "finance.total_sm": [60_000, prior],
            "finance.net_burn_rate": 20_000,
            "finance.operationally_available_cash": 600_000,
            "sales.gross_margin": 80,
            "finance.fcf_margin": 10,
        },
    )
    values = {item.kpi: item.value for item in pack.items}
    # CAC payback: 60,000 ÷ (new business 48,000 ÷ 12 × 80 %) = 60,000 ÷ 3,200 = 18.75 months.
    # Magic number: net new ARR 24,000 (ledger) ÷ prior-quarter S&M 50,000 = 0.48x.
    # Burn multiple: 20,000 a month × 3 months ÷ 24,000 = 2.50x.
    # Rule of 40: YoY ARR growth 22.45 % (ledger) + FCF margin 10 % (twelve months) = 32.45 %.
    # Runway: 600,000 ÷ 20,000 = 30 months.
    assert {kpi: values[kpi] for kpi in FINANCE_SECTION} == {
        "sales.cac_payback_period": Decimal("18.75"),
        "sales.magic_number": Decimal("0.48"),
        "finance.burn_multiple": Decimal("2.50"),
        "operations.rule_of_40": Decimal("32.45"),
        "finance.runway_months": Decimal("30.00"),
    }
    assert pack.not_computable == [] and pack.refused == []


def test_an_implausible_finance_input_is_refused_not_computed(ctx: ToolContext) -> None:
    pack = board_pack(
        ctx,
        "2026-Q3",
        datasets=DatasetRegistry(data_dir=None),
        currency="USD",
        kpis=["sales.cac_payback_period"],
        inputs={"finance.total_sm": 60_000, "sales.new_business": 48_000, "sales.gross_margin": 0.8},
    )
    # 0.8 for a gross margin on the 0–100 scale is the fraction-for-percent slip: refused, never computed.
    assert [(entry.kpi, entry.code) for entry in pack.refused] == [
        ("sales.cac_payback_period", ErrorCode.IMPLAUSIBLE_VALUE)
    ]
    assert pack.items == []


def test_a_misspelt_input_is_refused_naming_it(ctx: ToolContext) -> None:
    with pytest.raises(KpiError) as refused:
        board_pack(ctx, "2026-Q3", datasets=DatasetRegistry(data_dir=None), inputs={"finance.total_sn": 1})
    assert refused.value.code is ErrorCode.UNKNOWN_INPUT and refused.value.detail.field == "inputs.finance.total_sn"


def test_the_pack_is_signed_over_all_of_it(ctx: ToolContext, pack: BoardPack) -> None:
    again = board_pack(ctx, "2026-Q3", datasets=DatasetRegistry(data_dir=None), ledger={"rows": ROWS}, currency="USD")
    assert again.provenance.signature == pack.provenance.signature
    assert pack.provenance.pack_id.startswith("v_")


def test_every_kpi_of_the_default_pack_is_in_the_catalog(catalog: Catalog) -> None:
    assert set(LEDGER_SECTION + FINANCE_SECTION) <= set(catalog.kpis)


def test_a_ledger_that_cannot_be_read_refuses_the_whole_pack_once(ctx: ToolContext) -> None:
    with pytest.raises(KpiError) as refused:
        board_pack(ctx, "2026-Q3", datasets=DatasetRegistry(data_dir=None), ledger="nowhere")
    assert refused.value.code is ErrorCode.DATASET_NOT_FOUND


def test_default_in_kpis_extends_the_default_section(ctx: ToolContext) -> None:
    pack = board_pack(
        ctx,
        "2026-Q3",
        datasets=DatasetRegistry(data_dir=None),
        ledger={"rows": ROWS},
        currency="USD",
        kpis=["default", "customers.arpa"],
    )
    assert [item.kpi for item in pack.items][: len(LEDGER_SECTION)] == list(LEDGER_SECTION)
    # ARPA: MRR 240,000 ÷ 12 = 20,000 over 3 live accounts = 6,666.67 a month.
    assert pack.items[-1].kpi == "customers.arpa" and pack.items[-1].value == Decimal("6666.67")


# --- a February fiscal year: QoQ and YoY align to fiscal quarters -----------------------------------------------
# ARR at fiscal closes (tests/support/ledgers.fiscal_ledger): 31 Oct 2026 (Q3 FY2027) A1 12,000 + A3 3,000 + A2 6,000
# = 21,000; 31 Jul 2026 (Q2 FY2027) 12,000 + 3,000 = 15,000; 31 Oct 2025 (Q3 FY2026) 12,000.
# QoQ (21,000 − 15,000) ÷ 15,000 = 40 %; YoY (21,000 − 12,000) ÷ 12,000 = 75 %. (Calendar Q3 2026 would close on
# 30 Sep 2026 at 15,000: YoY 25 %.)


@pytest.fixture(scope="module")
def fiscal_pack(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> BoardPack:
    from tests.support.ledgers import fiscal_ledger
    from tests.support.profiles import context, loaded, minimal_document

    profile = loaded(tmp_path_factory.mktemp("profile"), minimal_document(fiscal_year_start_month=2), catalog)
    return board_pack(
        context(catalog, profile),
        "FY2027-Q3",
        datasets=DatasetRegistry(data_dir=None),
        ledger={"rows": fiscal_ledger()},
        currency="USD",
        kpis=["sales.arr", "sales.arr_growth_qoq", "sales.growth_rate_yoy"],
    )


def test_a_fiscal_pack_reads_its_quarter_by_its_fiscal_name(fiscal_pack: BoardPack) -> None:
    assert fiscal_pack.period == "Q3 FY2027"
    assert fiscal_pack.provenance.profile is not None and fiscal_pack.provenance.profile.id == "globex"


def test_a_fiscal_pack_grows_against_the_prior_fiscal_quarter_and_the_same_fiscal_quarter_a_year_earlier(
    fiscal_pack: BoardPack,
) -> None:
    assert _item(fiscal_pack, "sales.arr").value == Decimal(21000)
    assert _item(fiscal_pack, "sales.arr_growth_qoq").value == Decimal("40.00")
    assert _item(fiscal_pack, "sales.growth_rate_yoy").value == Decimal("75.00")
    changes = _item(fiscal_pack, "sales.arr").changes
    prior_quarter, prior_year = changes[CompareTo.PRIOR_PERIOD], changes[CompareTo.PRIOR_YEAR]
    assert isinstance(prior_quarter, Change) and isinstance(prior_year, Change)
    assert prior_quarter.against == "as of 2026-07-31"
    assert prior_year.against == "as of 2025-10-31"
    # 21,000 − 12,000 = +9,000, +75 % relative (whole amounts are printed without cents).
    assert prior_year.text == "+$9,000 (+75%)"


def test_a_pack_under_a_profile_carries_the_organisations_slide_labels(catalog: Catalog) -> None:
    from kpi_context.ontology.profile_loader import load_profile
    from tests.support.profiles import EXAMPLE, context

    acme = context(catalog, load_profile(EXAMPLE, catalog))
    governed = board_pack(
        acme,
        "2026-Q3",
        datasets=DatasetRegistry(data_dir=None),
        ledger={"rows": ROWS},
        currency="USD",
        kpis=["sales.arr", "customers.net_revenue_retention"],
    )
    assert [(item.kpi, item.slide_label) for item in governed.items] == [
        ("sales.arr", None),
        ("customers.net_revenue_retention", "NRR"),
    ]
