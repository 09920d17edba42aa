"""Sentences and clauses of a draft in plain text or Markdown, as character spans of the original text.

A sentence ends at ". ", "! " or "? " (not after "vs." or "e.g."), at a blank line, and at the end of
a list item, heading or table row. Clauses split a sentence at punctuation and at the words that join
two statements ("and", "while", "vs", "than", "from", "to", "with") or compare them ("outpaced",
"above"): a figure belongs to the KPI and period of its own clause first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE_BREAK = re.compile(r"\n[ \t]*\n|\n(?=[ \t]*(?:[-*+][ \t]|[0-9]+[.)][ \t]|#|\|))|(?<=\|)[ \t]*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]*\s+(?=[\"“(*_\[]*[A-Z0-9$€£¥])")
_ABBREVIATIONS = re.compile(
    r"(?:\bvs|\be\.g|\bi\.e|\bapprox|\bincl|\bca|\bcf|\bno|\bavg|\best|\bU\.S)\.$", re.IGNORECASE
)
_MOVE = (
    r"(?:higher|lower|bigger|smaller|larger|greater|more|less|fewer|better|worse|faster|slower|ahead|behind|"
    r"up|down|rising|falling|rose|fell|grew|dropped|declined|increased|decreased|climbed|slipped)"
)
COMPARING = re.compile(
    rf"\b(?:{_MOVE}\s+(?:than|from)|vs\.?|versus|compared\s+(?:with|to)|compares?\s+(?:\w+\s+)?(?:with|to)|"
    r"relative\s+to|against|than|"
    r"outpac\w*|outgr[eo]w\w*|outstrip\w*|exceed\w*|ahead\s+of|behind|above|below|lags?|lagged|lagging|trails|"
    r"tops|beats?|eclipses?|dwarfs?|on\s+par\s+with|in\s+line\s+with|in\s+contrast\s+to|matches|same\s+as|"
    r"equal\s+to|as\s+(?:high|low|large|big|strong)\s+as)\b",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(
    r"[,;()\[\]|]|:(?=\s)|\s[—–-]\s|—"
    r"|\b(?:and|but|while|whereas|vs\.?|versus|compared\s+(?:with|to)|against|than|from|to|with|as|after|before)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Span:
    start: int
    end: int

    def holds(self, position: int) -> bool:
        return self.start <= position < self.end


@dataclass(frozen=True)
class Sentence:
    span: Span
    clauses: tuple[Span, ...]

    def clause_of(self, position: int) -> int:
        for index, clause in enumerate(self.clauses):
            if clause.holds(position):
                return index
        return -1


def _blocks(text: str) -> list[Span]:
    spans: list[Span] = []
    start = 0
    for match in _LINE_BREAK.finditer(text):
        spans.append(Span(start, match.start()))
        start = match.end()
    spans.append(Span(start, len(text)))
    return spans


def _sentences(text: str, block: Span) -> list[Span]:
    spans: list[Span] = []
    start = block.start
    for match in _SENTENCE_END.finditer(text, block.start, block.end):
        if _ABBREVIATIONS.search(text, max(block.start, match.start() - 8), match.start()):
            continue
        spans.append(Span(start, match.start()))
        start = match.end()
    spans.append(Span(start, block.end))
    return spans


def _clauses(text: str, sentence: Span) -> tuple[Span, ...]:
    """Clauses between breaks: punctuation, joining words, and the words that compare (each side its own)."""
    breaks = sorted(
        [
            *_CLAUSE_BREAK.finditer(text, sentence.start, sentence.end),
            *COMPARING.finditer(text, sentence.start, sentence.end),
        ],
        key=lambda m: m.start(),
    )
    clauses: list[Span] = []
    start = sentence.start
    for match in breaks:
        if match.start() < start:
            continue
        if match.start() > start:
            clauses.append(Span(start, match.start()))
        start = match.end()
    if sentence.end > start:
        clauses.append(Span(start, sentence.end))
    return tuple(clauses) or (sentence,)


def sentences(text: str) -> list[Sentence]:
    """The draft's sentences in order, each with its clauses; blank stretches are left out."""
    found: list[Sentence] = []
    for block in _blocks(text):
        for span in _sentences(text, block):
            stripped = text[span.start : span.end]
            if not stripped.strip():
                continue
            lead = len(stripped) - len(stripped.lstrip())
            trail = len(stripped) - len(stripped.rstrip())
            tight = Span(span.start + lead, span.end - trail)
            found.append(Sentence(tight, _clauses(text, tight)))
    return found
