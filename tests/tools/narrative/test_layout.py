"""Sentences and clauses of a draft, as spans of the original text."""

from __future__ import annotations

from kpi_context.tools.narrative.layout import sentences


def texts(text: str) -> list[str]:
    return [text[s.span.start : s.span.end] for s in sentences(text)]


def test_sentences_end_at_a_full_stop_but_not_inside_a_number_or_after_vs() -> None:
    text = "ARR was $14.1M vs. $12.2M in Q2. NRR was 81.4%."
    assert texts(text) == ["ARR was $14.1M vs. $12.2M in Q2.", "NRR was 81.4%."]


def test_list_items_and_table_rows_are_sentences_of_their_own() -> None:
    text = "- ARR: $14.1M\n- NRR: 81.4%\n\n| KPI | Q3 |\n| GRR | 77.8% |"
    assert texts(text) == ["- ARR: $14.1M", "- NRR: 81.4%", "| KPI | Q3 |", "| GRR | 77.8% |"]


def test_clauses_split_at_punctuation_and_joining_words() -> None:
    text = "In Q3, ARR reached $14.1M while NRR was 81.4%"
    [sentence] = sentences(text)
    assert [text[c.start : c.end].strip() for c in sentence.clauses] == ["In Q3", "ARR reached $14.1M", "NRR was 81.4%"]
