"""The table of contract values through time under the conventions' valuations: exit rate, NL/365, as-of year.

The same check as `test_valued.py` (the table against the valuation taken directly on each day), on the
same ledgers, for the options that value contracts differently: a ramp read at its final step from any
day, day counts without 29 February, and days over the valuation day's year (which moves every 1 January).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kpi_context.ontology.ledger_options import LedgerOptions
from kpi_context.tools.ledger.source import InlineRows, LedgerSource
from kpi_context.tools.ledger.store import LedgerStore
from kpi_context.tools.ledger.validate import open_ledger
from tests.tools.ledger.test_valued import _change_days, _leap_book, _stale, _tables, generated

__all__ = ["generated"]

OPTIONS = [
    LedgerOptions(annualization="exit_rate"),
    LedgerOptions(annualization="exit_rate", churn_timing="cancellation_date", live_basis="signed"),
    LedgerOptions(day_count="nl_365"),
    LedgerOptions(annualization="tcv_over_term_years", day_count="nl_365", co_term="change_revenue"),
    LedgerOptions(annualization="first_contract_year", day_count="nl_365", short_terms="face_value"),
    LedgerOptions(day_count="as_of_year"),
    LedgerOptions(annualization="mrr_times_12", day_count="as_of_year", churn_timing="cancellation_date"),
    LedgerOptions(annualization="tcv_over_term_years", day_count="as_of_year", co_term="change_revenue"),
    LedgerOptions(annualization="first_contract_year", day_count="as_of_year", short_terms="face_value"),
    LedgerOptions(annualization="exit_rate", day_count="as_of_year", live_basis="signed"),
]


def _name(options: LedgerOptions) -> str:
    return f"{options.annualization.value}-{options.day_count.value}-{options.churn_timing.value}"


@pytest.mark.parametrize("options", OPTIONS, ids=_name)
def test_the_table_holds_each_days_own_valuation_on_a_generated_ledger(generated, options):
    con, lines = generated
    _tables(con, lines, options)
    assert _stale(con, options, _change_days(con, 25, seed=5)) == []


@pytest.mark.parametrize("options", OPTIONS, ids=_name)
def test_the_table_holds_each_days_own_valuation_around_leap_days(options):
    store = LedgerStore()
    source = LedgerSource("inline", InlineRows(_leap_book()))
    with open_ledger(store, source, None) as opened:
        _tables(opened.con, opened.lines, options)
        days = [date(2022, 1, 1) + timedelta(days=n) for n in range(9 * 365)]
        assert _stale(opened.con, options, days) == []
