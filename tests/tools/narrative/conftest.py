"""The narrative tests' shared setting: the bundled catalog and the corpus values (tests/fixtures/narrative/values.json).

The values are computed once per session from the sample ledger (and stated finance inputs); each is
checked against the number the fixture expects, so a test can name a value by its key and quote it.
"""

from __future__ import annotations

import pytest

from bench.narrative import SAMPLE, context, corpus_values
from kpi_context.tools.board_pack import BoardPack, board_pack
from kpi_context.tools.context import ToolContext
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.narrative.mentions import Lexicon, lexicon_for
from kpi_context.tools.values import BoundValue


@pytest.fixture(scope="session")
def ctx() -> ToolContext:
    return context()


@pytest.fixture(scope="session")
def values(ctx: ToolContext) -> dict[str, BoundValue]:
    return corpus_values(ctx)


@pytest.fixture(scope="session")
def lexicon(ctx: ToolContext) -> Lexicon:
    return lexicon_for(ctx.catalog)


@pytest.fixture(scope="session")
def pack(ctx: ToolContext) -> BoardPack:
    """A Q3 2026 board pack from the sample ledger: ARR, the bridge, NRR and GRR, signed by this server."""
    datasets = DatasetRegistry.from_cli(SAMPLE.parent, [f"sample={SAMPLE}"])
    kpis = ["sales.arr", "sales.net_new_arr", "customers.net_revenue_retention", "customers.gross_revenue_retention"]
    return board_pack(ctx, "2026-Q3", datasets=datasets, ledger="sample", kpis=kpis)
