"""KPI mentions in prose, recognized through the catalog's own names: labels, aliases and short names.

"NRR", "net dollar retention" and "Net Revenue Retention (NRR)" all name customers.net_revenue_retention.
A name several KPIs answer to ("ACV" is both new-logo and blended ACV) is kept with every candidate;
which one the sentence means is decided later, against the values in play. The rules phrases of
governed labels ("trailing 12 months, starting-cohort ARR") are qualifiers, not mentions: they name a
KPI's variant, and the words inside them ("ARR") are not read as KPIs of their own.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.model import DEFAULT_VARIANT_ID, FieldType, KpiDefinition, normalize_term
from kpi_context.tools.binder import short_name

ORDINARY_WORDS = frozenset(
    {
        "starts",
        "wins",
        "losses",
        "quits",
        "events",
        "hires",
        "bridge",
        "waterfall",
        "insurance",
        "hosting",
        "post",
        "pre",
        "travel",
        "facilities",
        "commitments",
        "entertainment",
    }
)
"""Aliases that are everyday words in a board narrative ("the quarter starts", "big wins"): not read as KPIs."""

_CASE_SENSITIVE = re.compile(r"^[A-Z0-9&%/\-]{2,6}$")
_MIN_RULES_WORDS = 2


@dataclass(frozen=True)
class KpiMention:
    """A name of one or more KPIs at [start, end) of the draft."""

    start: int
    end: int
    text: str
    kpis: tuple[str, ...]
    """Every KPI the name answers to, in catalog order; one when the name is unambiguous."""


@dataclass(frozen=True)
class Qualifier:
    """A rules phrase at [start, end) that names a KPI's variant ("reporting period only")."""

    start: int
    end: int
    kpi: str
    variant: str | None
    """The variant id ('default' for the default rules); None when the phrase only tells the KPI apart."""


def _pattern(name: str) -> str:
    words = [re.escape(word) for word in re.split(r"[\s\-]+", name.strip()) if word]
    body = r"[\s\-]+".join(words)
    return body if _CASE_SENSITIVE.match(name.strip()) else f"(?i:{body})"


SPOKEN_NAMES = {
    "sales.new_business": ("new business",),
    "sales.expansion": ("expansion",),
    "sales.reactivation": ("reactivation",),
    "sales.churn_arr": ("churn",),
    "customers.logo_churn_rate": ("churn",),
    "customers.customers_churned": ("churned",),
}
"""Names a board narrative uses that the catalog leaves to context: the ARR bridge's line names as a board
pack prints them, and "churn", which is churned ARR in a bridge and the logo churn rate elsewhere."""


def _names(kpi: KpiDefinition) -> set[str]:
    names = {kpi.label, short_name(kpi), *kpi.aliases}
    bare = re.sub(r"\s*\([^)]*\)\s*$", "", kpi.label).strip()
    names.add(bare)
    # "(ACV)" in "Average Contract Value (ACV)" abbreviates the label: a name. "(ARR)" in "Contraction
    # Rate (ARR)" or "(Months)" in "Runway (Months)" says what it is measured in: not a name of its own.
    initials = "".join(word[0] for word in re.findall(r"[A-Za-z]+", bare)).upper()
    names |= {part for part in re.findall(r"\(([^)]+)\)", kpi.label) if part.upper() == initials}
    names |= set(SPOKEN_NAMES.get(kpi.id, ()))
    return {name for name in names if name and name.lower() not in ORDINARY_WORDS}


def _parts(label: str) -> list[str]:
    return [part.strip() for part in label.split(",") if part.strip()]


class Lexicon:
    """The catalog's names as one scanner, plus the rules phrases that name variants."""

    def __init__(self, catalog: Catalog) -> None:
        kpis = [kpi for kpi in catalog if kpi.field_type not in (FieldType.TEXT, FieldType.DATE)]
        by_name: dict[str, list[str]] = {}
        spelled: dict[str, str] = {}
        for kpi in kpis:
            for name in _names(kpi):
                key = normalize_term(name)
                if not key:
                    continue
                owners = by_name.setdefault(key, [])
                if kpi.id not in owners:
                    owners.append(kpi.id)
                spelled.setdefault(name, key)
        self._owners = {key: tuple(ids) for key, ids in by_name.items()}
        self._catalog = catalog
        ordered = sorted(spelled, key=lambda name: (-len(name), name))
        self._names = re.compile(
            r"(?<![A-Za-z0-9])(?:" + "|".join(_pattern(name) for name in ordered) + r")(?:'s|’s|s)?(?![A-Za-z0-9])"
        )
        self._rules = self._rules_phrases(kpis)
        self._qualifiers = self._variant_phrases(kpis)
        self._trends = self._trend_kpis(kpis)

    @staticmethod
    def _trend_kpis(kpis: Iterable[KpiDefinition]) -> dict[str, frozenset[str]]:
        """KPI → the KPIs defined as its change over time (ACV → ACV Trend: ACV now against ACV earlier)."""
        found: dict[str, set[str]] = {}
        for kpi in kpis:
            for expression in (kpi.expression, *(v.expression for v in kpi.variants)):
                if expression is None:
                    continue
                roles: dict[str, set[str]] = {}
                for item in expression.inputs:
                    if item.kpi is not None:
                        roles.setdefault(item.kpi, set()).add(item.period.value)
                for source, periods in roles.items():
                    if "current" in periods and len(periods) > 1:
                        found.setdefault(source, set()).add(kpi.id)
        return {source: frozenset(ids) for source, ids in found.items()}

    def trends_of(self, kpi_id: str) -> frozenset[str]:
        return self._trends.get(kpi_id, frozenset())

    @staticmethod
    def _rules_phrases(kpis: Iterable[KpiDefinition]) -> re.Pattern[str]:
        phrases = {kpi.variant_label for kpi in kpis} | {v.label for kpi in kpis for v in kpi.variants}
        kept = sorted((p for p in phrases if len(p.split()) >= _MIN_RULES_WORDS), key=lambda p: (-len(p), p))
        return re.compile("|".join(re.escape(p) for p in kept), re.IGNORECASE)

    @staticmethod
    def _variant_phrases(kpis: Iterable[KpiDefinition]) -> list[tuple[re.Pattern[str], str, str | None]]:
        """Each KPI's label parts: in every one of its labels (tells the KPI apart), or in one (names a variant)."""
        found: list[tuple[re.Pattern[str], str, str | None]] = []
        for kpi in kpis:
            labels = {DEFAULT_VARIANT_ID: kpi.variant_label, **{v.id: v.label for v in kpi.variants}}
            if len(labels) < 2:
                continue
            names = " ".join(_names(kpi)).lower()
            for variant, label in labels.items():
                for part in _parts(label):
                    holders = [vid for vid, other in labels.items() if part.lower() in other.lower()]
                    if len(holders) == len(labels):
                        found.append((re.compile(re.escape(part), re.IGNORECASE), kpi.id, None))
                    elif holders == [variant]:
                        found.append((re.compile(re.escape(part), re.IGNORECASE), kpi.id, variant))
                spoken = variant.replace("_", " ")
                if variant != DEFAULT_VARIANT_ID and spoken not in names and spoken not in label.lower():
                    pattern = r"\b" + r"[\s\-]+".join(map(re.escape, spoken.split())) + r"\b"
                    found.append((re.compile(pattern, re.IGNORECASE), kpi.id, variant))
        return found

    def owners(self, name: str) -> tuple[str, ...]:
        return self._owners.get(normalize_term(name), ())

    def kpi(self, kpi_id: str) -> KpiDefinition | None:
        return self._catalog.get(kpi_id)

    def rules_spans(self, text: str) -> list[tuple[int, int]]:
        """Where the draft quotes rules phrases of governed labels: neither KPI mentions nor figures."""
        return [(m.start(), m.end()) for m in self._rules.finditer(text)]

    def mentions(self, text: str, masks: Sequence[tuple[int, int]] = ()) -> list[KpiMention]:
        found: list[KpiMention] = []
        for match in self._names.finditer(text):
            if any(match.start() < end and start < match.end() for start, end in masks):
                continue
            name = re.sub(r"(?:'s|’s)$", "", match.group(0))
            owners = self.owners(name)
            if not owners and name.endswith("s"):
                owners = self.owners(name[:-1])  # "ARRs", "logos" said of "logo"
            if owners:
                found.append(KpiMention(match.start(), match.end(), match.group(0), owners))
        return found

    def qualifiers(self, text: str) -> list[Qualifier]:
        found: list[Qualifier] = []
        for pattern, kpi, variant in self._qualifiers:
            found += [Qualifier(m.start(), m.end(), kpi, variant) for m in pattern.finditer(text)]
        return sorted(set(found), key=lambda q: (q.start, q.kpi, q.variant or ""))

    def unambiguous_name(self, kpi_id: str, said: str) -> str:
        """A name of the KPI that contains what the draft said ("ACV" → "new logo ACV") and names it alone."""
        kpi = self._catalog.kpis[kpi_id]
        said_key = normalize_term(said)
        names = sorted(_names(kpi), key=len)
        unique = [name for name in names if self.owners(name) == (kpi_id,)]
        containing = [name for name in unique if said_key and said_key in normalize_term(name)]
        return (containing or unique or [kpi.label])[0]


_LOCK = threading.Lock()
_CACHE: dict[str, Lexicon] = {}
_CACHE_SIZE = 4


def lexicon_for(catalog: Catalog) -> Lexicon:
    """The catalog's lexicon, built once per catalog content (a few hundred names into one pattern)."""
    with _LOCK:
        found = _CACHE.get(catalog.content_hash)
        if found is None:
            if len(_CACHE) >= _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
            found = _CACHE[catalog.content_hash] = Lexicon(catalog)
        return found
