"""kpi_series under a February fiscal year: steps by fiscal quarters when `start` is fiscal, labels read fiscal.

Hand-computed ARR at the fiscal closes (tests/support/ledgers.fiscal_ledger): 30 Apr 2026 (Q1 FY2027) A1 12,000;
31 Jul 2026 (Q2) A1 12,000 + A3 3,000 = 15,000; 31 Oct 2026 (Q3) 15,000 + A2 6,000 = 21,000.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.periods import Every
from kpi_context.tools.series import kpi_series
from tests.support.ledgers import fiscal_ledger
from tests.support.profiles import context, loaded, minimal_document

CATALOG = load_catalog()


@pytest.fixture(scope="module")
def fiscal(tmp_path_factory: pytest.TempPathFactory) -> ToolContext:
    profile = loaded(tmp_path_factory.mktemp("profile"), minimal_document(fiscal_year_start_month=2), CATALOG)
    return context(CATALOG, profile)


def series(ctx: ToolContext, start: str, end: str):
    return kpi_series(
        ctx,
        "sales.arr",
        {"rows": fiscal_ledger()},
        datasets=DatasetRegistry(data_dir=None),
        start=start,
        end=end,
        every=Every.QUARTER,
        currency="USD",
    )


def test_a_fiscal_start_steps_by_fiscal_quarters_with_fiscal_labels(fiscal):
    result = series(fiscal, "FY2027-Q1", "FY2027-Q3")
    assert [p.period for p in result.points] == ["Q1 FY2027", "Q2 FY2027", "Q3 FY2027"]
    assert [p.value for p in result.points] == [Decimal(12000), Decimal(15000), Decimal(21000)]
    assert result.label.endswith("Q1 FY2027 to Q3 FY2027")
    assert result.provenance.profile is not None and result.provenance.profile.id == "globex"


def test_a_calendar_start_keeps_calendar_quarters_under_a_fiscal_profile(fiscal):
    # Calendar closes: 30 Jun 2026 A1 + A3 = 15,000; 30 Sep 2026 still 15,000 (A2 starts on 15 Oct).
    result = series(fiscal, "2026-Q2", "2026-Q3")
    assert [p.period for p in result.points] == ["Q2 2026", "Q3 2026"]
    assert [p.value for p in result.points] == [Decimal(15000), Decimal(15000)]


def test_a_fiscal_series_without_a_profile_is_refused():
    with pytest.raises(KpiError) as refused:
        series(ToolContext.create(CATALOG, secret=b"x"), "FY2027-Q1", "FY2027-Q3")
    assert refused.value.code is ErrorCode.INVALID_ARGUMENT
    assert refused.value.detail.field == "start"
