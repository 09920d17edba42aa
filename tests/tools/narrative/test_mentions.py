"""KPI mentions through the catalog's names, and the rules phrases that name a variant."""

from __future__ import annotations

from kpi_context.tools.narrative.mentions import Lexicon


def named(lexicon: Lexicon, text: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(m.text, m.kpis) for m in lexicon.mentions(text, lexicon.rules_spans(text))]


def test_labels_aliases_and_short_names_all_name_their_kpi(lexicon: Lexicon) -> None:
    found = named(lexicon, "NRR, net dollar retention and Net Revenue Retention (NRR) rose; GRR held.")
    nrr = ("customers.net_revenue_retention",)
    assert found == [
        ("NRR", nrr),
        ("net dollar retention", nrr),
        ("Net Revenue Retention (NRR)", nrr),
        ("GRR", ("customers.gross_revenue_retention",)),
    ]


def test_a_name_several_kpis_answer_to_keeps_every_candidate(lexicon: Lexicon) -> None:
    [(text, kpis)] = named(lexicon, "ACV rose.")
    assert text == "ACV"
    assert set(kpis) == {"sales.avg_contract_value", "customers.avg_contract_value"}


def test_the_longest_name_wins(lexicon: Lexicon) -> None:
    assert named(lexicon, "new-logo ACV and ARR per customer") == [
        ("new-logo ACV", ("sales.avg_contract_value",)),
        ("ARR per customer", ("customers.avg_contract_value",)),
    ]


def test_abbreviations_match_only_in_capitals_and_as_whole_words(lexicon: Lexicon) -> None:
    assert named(lexicon, "the arr of CARRIER") == []
    assert named(lexicon, "CARR") == [("CARR", ("sales.carr",))]


def test_words_inside_a_governed_rules_phrase_are_not_mentions(lexicon: Lexicon) -> None:
    text = "NRR — trailing 12 months, starting-cohort ARR, 12 months to Sep 2026: 81.35%"
    assert named(lexicon, text) == [("NRR", ("customers.net_revenue_retention",))]


def test_a_unit_in_brackets_is_not_a_name(lexicon: Lexicon) -> None:
    # "Runway (Months)" and "Contraction Rate (ARR)": the brackets say what the KPI is measured in
    assert named(lexicon, "twelve months") == []
    assert lexicon.owners("ARR") == ("sales.arr",)


def test_a_distinctive_rules_phrase_names_a_variant(lexicon: Lexicon) -> None:
    qualifiers = lexicon.qualifiers("NRR (reporting period only)")
    assert ("customers.net_revenue_retention", "period_rate") in {(q.kpi, q.variant) for q in qualifiers}


def test_an_ambiguous_name_is_made_unambiguous_with_the_words_the_draft_used(lexicon: Lexicon) -> None:
    assert lexicon.unambiguous_name("sales.avg_contract_value", "ACV") == "new logo ACV"
    assert lexicon.unambiguous_name("customers.avg_contract_value", "ACV") == "blended ACV"


def test_a_kpi_defined_as_another_kpis_change_is_its_trend(lexicon: Lexicon) -> None:
    assert "customers.acv_trend_pct" in lexicon.trends_of("customers.avg_contract_value")
