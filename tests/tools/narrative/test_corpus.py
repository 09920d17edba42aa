"""The corpus benchmark's targets: every unsafe comparison and unbacked number found, at most 5 % false alarms.

The corpus (tests/fixtures/narrative/corpus.json) is hand-written; `python -m bench.narrative` prints
the same figures per finding code.
"""

from __future__ import annotations

from bench.narrative import load_corpus, report, run
from kpi_context.tools.narrative.layout import sentences
from kpi_context.tools.narrative.model import FindingCode


def test_the_corpus_has_at_least_40_sentences_good_and_bad_and_every_code() -> None:
    cases = load_corpus()
    assert sum(len(sentences(case.text)) for case in cases) >= 40
    assert any(not case.expected for case in cases) and any(case.expected for case in cases)
    assert {e.code for case in cases for e in case.expected} == set(FindingCode)


def test_every_unsafe_comparison_and_unbacked_number_is_found_with_at_most_5_percent_false_alarms() -> None:
    outcomes, tallies = run()
    figures = report(outcomes, tallies)
    assert tallies[FindingCode.UNSAFE_COMPARISON.value].recall == 1.0, figures["missed"]
    assert tallies[FindingCode.UNBACKED_NUMBER.value].recall == 1.0, figures["missed"]
    assert figures["false_alarm_rate"] <= 0.05, figures["false_alarms"]
