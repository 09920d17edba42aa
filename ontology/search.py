"""Find KPIs by what people call them.

An assistant rarely knows a KPI's id: it has a phrase from a user ("NDR", "anual recuring
revenue", "ACV"). `resolve` answers only when the phrase names exactly one KPI; `search`
always answers with ranked hits, and when the phrase names a family of look-alike KPIs
(several ACVs) it lists every member first, each with the rules that set it apart, so
the caller has to choose instead of silently getting one of them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz import fuzz, process

from kpi_context.ontology.binding import Annualization, Binding, RecurringInclusion
from kpi_context.ontology.model import (
    DEFAULT_VARIANT_ID,
    Domain,
    FieldType,
    KpiDefinition,
    Stage,
    Tier,
    normalize_term,
)

EXACT_SCORE = 100
AMBIGUOUS_NAME_SCORE = 95
"""The query is a name several KPIs answer to: all of them rank just below a unique match."""
FAMILY_SCORE = 90
FUZZY_CEILING = 89
"""Fuzzy similarity is scaled into 0–89 so it never outranks a name or family match: family members
always come first, and a near-exact typo still ranks above a loose partial match."""
DESCRIPTION_CEILING = 70
GOOD_MATCH_SCORE = 75
"""Below this the best hit is only a suggestion, and the result says so."""
MAX_LIMIT = 50
SHORT_NAME = 4
WORD_SIMILARITY = 80
"""Names of at most this many letters (ARR, G&A, CAC) match only as whole words of the query."""

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "how",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "per",
        "the",
        "to",
        "was",
        "what",
        "which",
        "with",
    ]
)


class MatchField(StrEnum):
    """What the query matched, from the most to the least specific."""

    ID = "id"
    SLUG = "slug"
    LABEL = "label"
    ALIAS = "alias"
    FAMILY = "family"
    DESCRIPTION = "description"


_FIELD_RANK = {field: rank for rank, field in enumerate(MatchField)}


class SearchError(ValueError):
    """A search argument that cannot be used; `code` and `field` are stable for callers."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.code = "invalid_argument"
        self.message = message
        self.field = field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VariantRef(_Frozen):
    id: str = Field(description="Variant id to pass back; 'default' names the KPI's default rules.")
    label: str


class SearchHit(_Frozen):
    kpi_id: str
    label: str
    domain: Domain
    family: str | None
    score: int = Field(ge=0, le=100)
    matched_on: MatchField
    matched_text: str = Field(description="The id, name, alias or family the query matched.")
    variant_label: str = Field(description="Short name of the KPI's default rules.")
    distinguishing: str | None = Field(
        default=None,
        description="For family members: what sets this KPI apart from its look-alikes (grain, inclusion, "
        "annualization).",
    )
    variants: tuple[VariantRef, ...] = Field(description="The default rules first, then each named variant.")


class SearchResult(_Frozen):
    query: str
    exact: bool = Field(description="The query names exactly one KPI (the first hit).")
    resolved_id: str | None
    family: str | None = Field(default=None, description="The family the query names, if any.")
    no_good_match: bool = Field(description="True when even the best hit is only a loose suggestion.")
    hits: tuple[SearchHit, ...]


@dataclass(frozen=True)
class _Name:
    kpi: int
    field: MatchField
    text: str


@dataclass(frozen=True)
class _Score:
    score: int
    field: MatchField
    text: str

    def beats(self, other: _Score | None) -> bool:
        if other is None:
            return True
        return (self.score, -_FIELD_RANK[self.field]) > (other.score, -_FIELD_RANK[other.field])


def _soft(text: str) -> str:
    """Lower-case words separated by single spaces: the form fuzzy scoring compares."""
    return " ".join(_WORD.findall(text.lower()))


def _phrases(soft: str) -> set[str]:
    """Every run of consecutive words of a soft-normalized text ('net new arr' → 'net', 'net new', …)."""
    words = soft.split()
    return {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}


def _shares_a_word(query_words: list[str], soft_name: str) -> bool:
    """Whether some word of the query is (nearly) a word of the name: 'anual' ~ 'annual'."""
    name_words = soft_name.split()
    return any(fuzz.ratio(q, n) >= WORD_SIMILARITY for q in query_words for n in name_words)


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOPWORDS}


def _recurring_phrase(value: RecurringInclusion) -> str | None:
    match value:
        case RecurringInclusion.RECURRING_ONLY:
            return "recurring charges only"
        case RecurringInclusion.RECURRING_PLUS_ONE_TIME:
            return "recurring plus one-time charges"
        case RecurringInclusion.RECURRING_PLUS_COMMITTED_USAGE:
            return "recurring plus committed usage"
        case RecurringInclusion.ALL_CHARGES:
            return "all charges"
        case RecurringInclusion.NOT_APPLICABLE:
            return None


def _annualization_phrase(value: Annualization) -> str | None:
    match value:
        case Annualization.ALREADY_ANNUAL:
            return "stated per year"
        case Annualization.MRR_TIMES_12:
            return "annualized as MRR × 12"
        case Annualization.TCV_OVER_TERM_YEARS:
            return "annualized as TCV ÷ term in years"
        case Annualization.FIRST_CONTRACT_YEAR:
            return "first contract year"
        case Annualization.CURRENT_CONTRACT_YEAR:
            return "contract year in force"
        case Annualization.EXIT_RATE:
            return "annualized at the exit rate"
        case Annualization.NOT_APPLICABLE:
            return None


def describe_binding(binding: Binding) -> str:
    """Grain, recurring inclusion and annualization in a few words."""
    parts = [
        binding.grain.describe(),
        _recurring_phrase(binding.recurring_inclusion),
        _annualization_phrase(binding.annualization),
    ]
    return "; ".join(p for p in parts if p)


def distinguishing_phrase(kpi: KpiDefinition) -> str:
    """The KPI's default rules as an LLM should read them next to its family's look-alikes."""
    return f"{kpi.variant_label} — {describe_binding(kpi.binding)}"


def _variant_refs(kpi: KpiDefinition) -> tuple[VariantRef, ...]:
    default = VariantRef(id=DEFAULT_VARIANT_ID, label=kpi.variant_label)
    return (default, *(VariantRef(id=v.id, label=v.label) for v in kpi.variants))


class SearchIndex:
    """Normalized names of a set of KPIs, built once and reused for every lookup."""

    def __init__(self, kpis: Iterable[KpiDefinition]) -> None:
        self._kpis: tuple[KpiDefinition, ...] = tuple(sorted(kpis, key=lambda k: k.id))
        self._by_id: dict[str, int] = {}
        self._exact: dict[str, list[_Name]] = {}
        self._families: dict[str, list[int]] = {}
        self._names: list[_Name] = []
        self._soft_names: list[str] = []
        self._vocabulary: dict[str, set[int]] = {}
        for i, kpi in enumerate(self._kpis):
            # A merged id (a former duplicate) names the KPI it was merged into, exactly like its own id.
            for known in kpi.known_ids:
                self._by_id[normalize_term(known)] = i
            names = [
                _Name(i, MatchField.SLUG, kpi.slug),
                _Name(i, MatchField.LABEL, kpi.label),
                *(_Name(i, MatchField.ALIAS, alias) for alias in kpi.aliases),
            ]
            for name in names:
                self._exact.setdefault(normalize_term(name.text), []).append(name)
                self._names.append(name)
                self._soft_names.append(_soft(name.text))
            if kpi.family is not None:
                self._families.setdefault(normalize_term(kpi.family), []).append(i)
            for word in _content_words(kpi.description):
                self._vocabulary.setdefault(word, set()).add(i)
        self._words = list(self._vocabulary)
        # The index never changes after construction, so a query's ranking can be reused: assistants
        # repeat the same few lookups many times in one session. Bounded so memory stays flat.
        self._ranked = functools.lru_cache(maxsize=1024)(self._rank)

    def __len__(self) -> int:
        return len(self._kpis)

    @property
    def kpis(self) -> Sequence[KpiDefinition]:
        return self._kpis

    def _exact_matches(self, key: str, allowed: set[int]) -> list[_Name]:
        if key in self._by_id and self._by_id[key] in allowed:
            i = self._by_id[key]
            said = next((k for k in self._kpis[i].known_ids if normalize_term(k) == key), self._kpis[i].id)
            return [_Name(i, MatchField.ID, said)]
        found: dict[int, _Name] = {}
        for name in self._exact.get(key, []):
            if name.kpi in allowed and name.kpi not in found:
                found[name.kpi] = name
        return list(found.values())

    def resolve(self, term: str) -> KpiDefinition | None:
        """The one KPI whose id, slug, label or alias is `term`; None when none or several are."""
        matches = self._exact_matches(normalize_term(term), set(range(len(self._kpis))))
        return self._kpis[matches[0].kpi] if len(matches) == 1 else None

    def _allowed(
        self,
        domain: Domain | None,
        stage: Stage | None,
        owning_function: str | None,
        tier: Tier | None,
        field_type: FieldType | None,
    ) -> set[int]:
        function = owning_function.casefold() if owning_function is not None else None
        allowed: set[int] = set()
        for i, kpi in enumerate(self._kpis):
            if domain is not None and kpi.domain != domain:
                continue
            if stage is not None and stage not in kpi.suggested_for_stages and stage not in kpi.stage_relevance:
                continue
            if function is not None and function not in {f.casefold() for f in kpi.default_owning_functions}:
                continue
            if tier is not None and kpi.definition_source.tier != tier:
                continue
            if field_type is not None and kpi.field_type != field_type:
                continue
            allowed.add(i)
        return allowed

    def _fuzzy(self, query: str, allowed: set[int], scores: dict[int, _Score]) -> None:
        soft = _soft(query)
        words_in = _phrases(soft)
        query_words = [w for w in soft.split() if len(w) >= 3]
        for _, similarity, pos in process.extract(
            soft, self._soft_names, scorer=fuzz.WRatio, processor=None, limit=None
        ):
            name = self._names[pos]
            if name.kpi not in allowed:
                continue
            if len(self._soft_names[pos].replace(" ", "")) <= SHORT_NAME and self._soft_names[pos] not in words_in:
                # Partial matching finds a three-letter name ("G&A", "ARR") inside any word; a short
                # name counts only when the query says it as a word of its own.
                continue
            score = round(similarity * FUZZY_CEILING / 100)
            if score >= GOOD_MATCH_SCORE and not _shares_a_word(query_words, self._soft_names[pos]):
                # Similar letters scattered across unrelated words ("zzqx not a kpi" ~ "other g a") are
                # a suggestion at best, never a match.
                score = GOOD_MATCH_SCORE - 1
            candidate = _Score(score, name.field, name.text)
            if candidate.beats(scores.get(name.kpi)):
                scores[name.kpi] = candidate
        # Description words count per query word, so a long description cannot win on length alone.
        words = _content_words(query)
        if not words:
            return
        hits_per_kpi: dict[int, int] = {}
        for word in words:
            covered: set[int] = set()
            for _, _, pos in process.extract(
                word, self._words, scorer=fuzz.ratio, processor=None, limit=None, score_cutoff=85
            ):
                covered |= self._vocabulary[self._words[pos]]
            for i in covered & allowed:
                hits_per_kpi[i] = hits_per_kpi.get(i, 0) + 1
        for i, count in hits_per_kpi.items():
            candidate = _Score(round(DESCRIPTION_CEILING * count / len(words)), MatchField.DESCRIPTION, query)
            if candidate.beats(scores.get(i)):
                scores[i] = candidate

    def search(
        self,
        query: str,
        *,
        domain: Domain | None = None,
        stage: Stage | None = None,
        owning_function: str | None = None,
        tier: Tier | None = None,
        field_type: FieldType | None = None,
        limit: int = 5,
    ) -> SearchResult:
        if not normalize_term(query):
            raise SearchError("the query needs at least one letter or digit", field="query")
        if not 1 <= limit <= MAX_LIMIT:
            raise SearchError(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        return self._ranked(query, domain, stage, owning_function, tier, field_type, limit)

    def _rank(
        self,
        query: str,
        domain: Domain | None,
        stage: Stage | None,
        owning_function: str | None,
        tier: Tier | None,
        field_type: FieldType | None,
        limit: int,
    ) -> SearchResult:
        allowed = self._allowed(domain, stage, owning_function, tier, field_type)
        key = normalize_term(query)
        scores: dict[int, _Score] = {}
        self._fuzzy(query, allowed, scores)

        exact = self._exact_matches(key, allowed)
        named_family = self._families.get(key)
        family: str | None = None
        if named_family is not None:
            family = self._kpis[named_family[0]].family
        else:
            shared = {self._kpis[n.kpi].family for n in exact}
            if len(exact) > 1 and len(shared) == 1 and None not in shared:
                family = shared.pop()
        # Every member of every family the query touches, so no look-alike is hidden.
        group: set[int] = set(named_family or [])
        for name in exact:
            fam = self._kpis[name.kpi].family
            if fam is not None:
                group.update(self._families[normalize_term(fam)])
        for i in group & allowed:
            fam_score = _Score(FAMILY_SCORE, MatchField.FAMILY, self._kpis[i].family or "")
            if fam_score.beats(scores.get(i)):
                scores[i] = fam_score
        top = EXACT_SCORE if len(exact) == 1 else AMBIGUOUS_NAME_SCORE
        for name in exact:
            scores[name.kpi] = _Score(top, name.field, name.text)

        ranked = sorted(scores.items(), key=lambda item: (-item[1].score, _FIELD_RANK[item[1].field], item[0]))
        if not ranked and allowed:
            # Nothing scored at all (a query of stopwords only): still offer something to choose from.
            ranked = [(i, _Score(0, MatchField.DESCRIPTION, query)) for i in sorted(allowed)]
        keep = max(limit, len(group & allowed) + (1 if len(exact) == 1 else 0))
        hits = tuple(self._hit(i, s) for i, s in ranked[:keep])
        resolved = self._kpis[exact[0].kpi].id if len(exact) == 1 else None
        return SearchResult(
            query=query,
            exact=resolved is not None,
            resolved_id=resolved,
            family=family,
            no_good_match=not hits or hits[0].score < GOOD_MATCH_SCORE,
            hits=hits,
        )

    def _hit(self, i: int, score: _Score) -> SearchHit:
        kpi = self._kpis[i]
        return SearchHit(
            kpi_id=kpi.id,
            label=kpi.label,
            domain=kpi.domain,
            family=kpi.family,
            score=score.score,
            matched_on=score.field,
            matched_text=score.text,
            variant_label=kpi.variant_label,
            distinguishing=distinguishing_phrase(kpi) if kpi.family is not None else None,
            variants=_variant_refs(kpi),
        )


def _index(kpis: Iterable[KpiDefinition] | SearchIndex) -> SearchIndex:
    return kpis if isinstance(kpis, SearchIndex) else SearchIndex(kpis)


def resolve(kpis: Iterable[KpiDefinition] | SearchIndex, term: str) -> KpiDefinition | None:
    """The one KPI named by `term` (id, slug, label or alias; case, spaces and punctuation ignored)."""
    return _index(kpis).resolve(term)


def search(
    kpis: Iterable[KpiDefinition] | SearchIndex,
    query: str,
    *,
    domain: Domain | None = None,
    stage: Stage | None = None,
    owning_function: str | None = None,
    tier: Tier | None = None,
    field_type: FieldType | None = None,
    limit: int = 5,
) -> SearchResult:
    """Ranked hits for `query`. Pass a prebuilt `SearchIndex` when searching the same KPIs repeatedly."""
    return _index(kpis).search(
        query,
        domain=domain,
        stage=stage,
        owning_function=owning_function,
        tier=tier,
        field_type=field_type,
        limit=limit,
    )
