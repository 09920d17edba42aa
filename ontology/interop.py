"""Exchange with the public board-KPI ontology: import its documents, export ours in its format.

An import becomes an `ImportedSource`: a separate, labelled set of KPIs with its own issues.
It never replaces or edits a definition of our catalog; where both hold the same id,
`overlaps` names it so a caller can show the two side by side and let a person choose.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from kpi_context.ontology.issues import LoadIssue, Severity
from kpi_context.ontology.model import Domain, KpiDefinition, Tier
from kpi_context.ontology.public_fetch import (
    DEFAULT_LIMITS,
    FetchLimits,
    ImportErrorCode,
    ImportFailure,
    Verify,
    is_url,
    parse_json,
    read_source,
)
from kpi_context.ontology.public_format import (
    PUBLIC_KPI_SCHEMA,
    PublicBenchmark,
    PublicDefinitionSource,
    PublicFormat,
    PublicKpi,
    PublicMetricBasis,
    ReleaseHeader,
    public_kpi_json,
)
from kpi_context.ontology.schema import validator_for

__all__ = [
    "ExportError",
    "ImportErrorCode",
    "ImportFailure",
    "ImportedSource",
    "Overlap",
    "PublicFormat",
    "PublicKpi",
    "compare_overlaps",
    "export_catalog",
    "export_domain",
    "export_index",
    "export_kpi",
    "export_source",
    "import_public",
    "import_public_bytes",
    "overlaps",
    "parse_public_document",
    "to_public",
]

_MAX_MESSAGE = 300
_HEADER_KEYS = {PublicFormat.KPI_ENVELOPE: "kpi", PublicFormat.INDEX: "kpis"}


class ImportedSource(BaseModel):
    """KPIs read from a public-format document, kept apart from our catalog."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    origin: str
    format: PublicFormat
    version: str | None
    released_at: date | None
    kpis: dict[str, PublicKpi]
    issues: tuple[LoadIssue, ...]

    @property
    def errors(self) -> tuple[LoadIssue, ...]:
        return tuple(i for i in self.issues if i.severity is Severity.ERROR)

    @property
    def ok(self) -> bool:
        return not self.errors

    def require_valid(self) -> Self:
        """This source, or an `invalid_definition` failure naming the first error."""
        if self.errors:
            first = self.errors[0]
            raise ImportFailure(
                ImportErrorCode.INVALID_DEFINITION,
                f"{len(self.errors)} error(s); first: [{first.rule}] {first.message}",
                field=first.pointer,
            )
        return self


# --- validation ------------------------------------------------------------------------


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _pointer(base: str, path: Iterable[object]) -> str:
    return base + "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in path)


class _Issues:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.items: list[LoadIssue] = []

    def add(self, rule: str, pointer: str, message: str, severity: Severity = Severity.ERROR) -> None:
        self.items.append(
            LoadIssue(rule=rule, severity=severity, file=self.origin, pointer=pointer, message=_short(message))
        )


def _structural(raw: object, base: str, issues: _Issues) -> PublicKpi | None:
    if not isinstance(raw, dict):
        issues.add("public_schema", base, f"expected a KPI object, found {type(raw).__name__}")
        return None
    violations = validator_for(PUBLIC_KPI_SCHEMA).violations(raw)
    for violation in violations:
        issues.add("public_schema", _pointer(base, violation.path), violation.message)
    if violations:
        return None
    try:
        return PublicKpi.model_validate(raw, by_alias=True, by_name=False)
    except ValidationError as exc:
        for err in exc.errors():
            issues.add("public_model", _pointer(base, err["loc"]), err["msg"])
        return None


def _semantic(kpi: PublicKpi, base: str, issues: _Issues) -> None:
    expected = f"{kpi.domain.value}.{kpi.slug}"
    if kpi.rogue_id != expected:
        issues.add("id_domain_slug", f"{base}/rogueId", f"id {kpi.rogue_id} must equal domain.slug ({expected})")
    source = kpi.definition_source
    if source.tier is Tier.PUBLISHED and (not source.source_name or source.publication_date is None):
        issues.add(
            "published_source",
            f"{base}/definitionSource",
            f"{kpi.rogue_id}: a published definition must name its source and publication date",
        )
    bench = kpi.benchmark
    if bench is not None and not bench.p25 <= bench.median <= bench.p75:
        issues.add(
            "benchmark_order",
            f"{base}/benchmark",
            f"{kpi.rogue_id}: quartiles must satisfy p25 ≤ median ≤ p75 (got {bench.p25}, {bench.median}, {bench.p75})",
        )


def _detect(document: object) -> tuple[PublicFormat, list[tuple[str, object]]]:
    """The document's shape and its KPI entries, each with its JSON pointer."""
    if isinstance(document, list):
        return PublicFormat.DOMAIN_LIST, [(f"/{i}", item) for i, item in enumerate(document)]
    if not isinstance(document, dict):
        raise ImportFailure(
            ImportErrorCode.UNSUPPORTED_FORMAT, f"expected a JSON object or array, found {type(document).__name__}"
        )
    if "kpi" in document and "kpis" not in document:
        return PublicFormat.KPI_ENVELOPE, [("/kpi", document["kpi"])]
    if "kpis" in document and "kpi" not in document:
        entries = document["kpis"]
        if not isinstance(entries, list):
            raise ImportFailure(ImportErrorCode.UNSUPPORTED_FORMAT, "`kpis` must be an array", field="/kpis")
        return PublicFormat.INDEX, [(f"/kpis/{i}", item) for i, item in enumerate(entries)]
    hint = " (a bare KPI: wrap it as {version, releasedAt, kpi})" if "rogueId" in document else ""
    raise ImportFailure(
        ImportErrorCode.UNSUPPORTED_FORMAT,
        "not a KPI envelope {version, releasedAt, kpi}, a domain list [...] or an index "
        "{version, releasedAt, kpis}" + hint,
    )


def _header(document: dict[str, Any], fmt: PublicFormat, issues: _Issues) -> ReleaseHeader:
    try:
        header = ReleaseHeader.model_validate(document, by_alias=True, by_name=False)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ImportFailure(
            ImportErrorCode.UNSUPPORTED_FORMAT,
            f"release header: {first['msg']}",
            field=_pointer("", first["loc"]),
        ) from exc
    for key in sorted(set(document) - {"version", "releasedAt", _HEADER_KEYS[fmt]}):
        issues.add("ignored_field", f"/{key}", f"unknown top-level field {key!r} is not imported", Severity.WARNING)
    return header


def _default_name(origin: str, fmt: PublicFormat, version: str | None) -> str:
    base = Path(urlsplit(origin).path).name if is_url(origin) else Path(origin).name
    suffix = f", v{version}" if version else ""
    return f"public ontology {fmt.value} ({base or origin}{suffix})"


def parse_public_document(document: object, *, origin: str, name: str | None = None) -> ImportedSource:
    """Validate an already-decoded public-format document into a labelled source."""
    fmt, entries = _detect(document)
    if not entries:
        raise ImportFailure(ImportErrorCode.UNSUPPORTED_FORMAT, f"{origin} holds no KPIs")
    issues = _Issues(origin)
    header = _header(document, fmt, issues) if isinstance(document, dict) else None
    kpis: dict[str, PublicKpi] = {}
    for base, raw in entries:
        kpi = _structural(raw, base, issues)
        if kpi is None:
            continue
        _semantic(kpi, base, issues)
        if kpi.rogue_id in kpis:
            issues.add("duplicate_id", f"{base}/rogueId", f"{kpi.rogue_id} appears more than once; first kept")
            continue
        kpis[kpi.rogue_id] = kpi
    if fmt is PublicFormat.DOMAIN_LIST and len({k.domain for k in kpis.values()}) > 1:
        issues.add("mixed_domains", "", "a domain list holds KPIs of several domains", Severity.WARNING)
    version = header.version if header else None
    return ImportedSource(
        name=name or _default_name(origin, fmt, version),
        origin=origin,
        format=fmt,
        version=version,
        released_at=header.released_at if header else None,
        kpis=kpis,
        issues=tuple(issues.items),
    )


def import_public_bytes(data: bytes, *, origin: str, name: str | None = None) -> ImportedSource:
    return parse_public_document(parse_json(data, origin=origin), origin=origin, name=name)


def import_public(
    source: str | Path,
    *,
    name: str | None = None,
    verify: Verify = True,
    limits: FetchLimits = DEFAULT_LIMITS,
    allow_private_hosts: bool = False,
) -> ImportedSource:
    """Read and validate a public-format document from a file path or an https URL.

    Transport and format problems raise `ImportFailure`; problems inside KPIs are returned as
    issues on the source (call `require_valid()` for all-or-nothing)."""
    data = read_source(source, verify=verify, limits=limits, allow_private_hosts=allow_private_hosts)
    return import_public_bytes(data, origin=str(source), name=name)


def overlaps(source: ImportedSource, catalog_ids: Iterable[str]) -> list[str]:
    """Ids present both in the imported source and in our catalog, sorted."""
    return sorted(set(source.kpis) & set(catalog_ids))


class Overlap(BaseModel):
    """An id both sides define, and which public-format fields they disagree on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kpi_id: str
    differing_fields: tuple[str, ...]


def compare_overlaps(source: ImportedSource, ours: Iterable[KpiDefinition]) -> list[Overlap]:
    """Each shared id with the fields that differ once our definition is reduced to the public format,
    so a person can decide what to adopt; nothing is merged here. An id merged into one of our KPIs
    overlaps as that KPI, written under the merged id."""
    by_id = {known: kpi for kpi in ours for known in kpi.known_ids}
    found = []
    for kpi_id in overlaps(source, by_id):
        theirs = public_kpi_json(source.kpis[kpi_id])
        mine = public_kpi_json(to_public(by_id[kpi_id], as_id=kpi_id))
        differing = sorted(key for key in set(theirs) | set(mine) if theirs.get(key) != mine.get(key))
        found.append(Overlap(kpi_id=kpi_id, differing_fields=tuple(differing)))
    return found


# --- export ----------------------------------------------------------------------------


class ExportError(ValueError):
    """An export request that cannot be met; `code` and `field` are stable for callers."""

    def __init__(self, code: str, message: str, *, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def _figure(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def _public_benchmark(kpi: KpiDefinition) -> PublicBenchmark | None:
    """The benchmark in the public format, which has no field naming the variant it was measured under:
    only a benchmark of the default rules is written, so an importer cannot attach it to the wrong ones."""
    bench = kpi.benchmark
    if bench is None or bench.variant is not None:
        return None
    return PublicBenchmark(
        p25=_figure(bench.p25),
        median=_figure(bench.median),
        p75=_figure(bench.p75),
        unit=bench.unit,
        source_name=bench.source_name,
        source_year=bench.source_year,
        higher_is_better=bench.higher_is_better,
    )


def to_public(kpi: KpiDefinition, *, as_id: str | None = None) -> PublicKpi:
    """Our definition reduced to the public format's fields (the governance layer stays ours).

    `as_id` writes it under one of its merged ids instead of its own, so a public id merged into it is
    still exported."""
    src = kpi.definition_source
    basis = kpi.metric_basis
    kpi_id = kpi.id if as_id is None else as_id
    if kpi_id not in kpi.known_ids:
        raise ExportError("not_found", f"{kpi.id} does not answer to {kpi_id}", field="kpi")
    domain, _, slug = kpi_id.partition(".")
    return PublicKpi(
        rogue_id=kpi_id,
        slug=slug,
        domain=Domain(domain),
        default_label=kpi.label,
        description=kpi.description,
        field_type=kpi.field_type,
        unit=kpi.unit_label,
        maturity=kpi.maturity,
        suggested_for_stages=kpi.suggested_for_stages,
        default_owning_functions=kpi.default_owning_functions,
        stage_relevance=dict(kpi.stage_relevance),
        definition_source=PublicDefinitionSource(
            tier=src.tier,
            source_name=src.source_name,
            source_url=src.source_url,
            section_ref=src.section_ref,
            publication_date=src.publication_date,
            attribution_notice=src.attribution_notice,
        ),
        benchmark=_public_benchmark(kpi),
        formula=kpi.formula,
        why_it_matters=kpi.why_it_matters,
        interpretation_guidance=kpi.interpretation_guidance,
        related_kpi_ids=kpi.related_kpi_ids,
        metric_basis=None
        if basis is None or basis == type(basis)()
        else PublicMetricBasis(
            time_basis=basis.time_basis,
            money_basis=basis.money_basis,
            cohort_basis=basis.cohort_basis,
            date_basis=basis.date_basis,
            production=basis.production,
        ),
    )


def export_kpi(kpi: PublicKpi, *, version: str, released_at: date) -> dict[str, Any]:
    """A single-KPI envelope `{version, releasedAt, kpi}`."""
    return {"version": version, "releasedAt": released_at.isoformat(), "kpi": public_kpi_json(kpi)}


def export_domain(kpis: Iterable[PublicKpi]) -> list[dict[str, Any]]:
    """A domain list `[...]`, in the order given."""
    return [public_kpi_json(k) for k in kpis]


def export_index(kpis: Iterable[PublicKpi], *, version: str, released_at: date) -> dict[str, Any]:
    """A full index `{version, releasedAt, kpis}`, in the order given."""
    return {"version": version, "releasedAt": released_at.isoformat(), "kpis": export_domain(kpis)}


def export_source(source: ImportedSource) -> object:
    """An imported source written back in the shape it came in (for round trips and re-publishing)."""
    kpis = list(source.kpis.values())
    match source.format:
        case PublicFormat.DOMAIN_LIST:
            return export_domain(kpis)
        case PublicFormat.KPI_ENVELOPE | PublicFormat.INDEX:
            if source.version is None or source.released_at is None:
                raise ExportError("invalid_argument", "the source carries no release header", field="source")
            if source.format is PublicFormat.INDEX:
                return export_index(kpis, version=source.version, released_at=source.released_at)
            if len(kpis) != 1:
                raise ExportError("not_found", "the envelope's KPI did not import", field="source")
            return export_kpi(kpis[0], version=source.version, released_at=source.released_at)


def _sorted_public(kpis: Iterable[KpiDefinition], domain: Domain | None = None) -> Iterator[PublicKpi]:
    """Every KPI under its own id and under each id merged into it, in id order (optionally of one domain)."""
    named = sorted(((known, kpi) for kpi in kpis for known in kpi.known_ids), key=lambda pair: pair[0])
    return (to_public(kpi, as_id=known) for known, kpi in named if domain is None or known.partition(".")[0] == domain)


def export_catalog(
    kpis: Iterable[KpiDefinition],
    fmt: PublicFormat,
    *,
    version: str,
    released_at: date,
    domain: Domain | None = None,
    kpi_id: str | None = None,
) -> object:
    """Our catalog (or one domain, or one KPI) as a public-format document."""
    definitions = list(kpis)
    match fmt:
        case PublicFormat.INDEX:
            if domain is not None or kpi_id is not None:
                raise ExportError("invalid_argument", "the index holds every KPI; drop domain and kpi", field="format")
            return export_index(_sorted_public(definitions), version=version, released_at=released_at)
        case PublicFormat.DOMAIN_LIST:
            if domain is None:
                raise ExportError("invalid_argument", "a domain list needs a domain", field="domain")
            if kpi_id is not None:
                raise ExportError("invalid_argument", "a domain list takes no kpi", field="kpi")
            return export_domain(_sorted_public(definitions, domain))
        case PublicFormat.KPI_ENVELOPE:
            if kpi_id is None:
                raise ExportError("invalid_argument", "a KPI envelope needs a kpi id", field="kpi")
            found = next((k for k in definitions if kpi_id in k.known_ids), None)
            if found is None:
                raise ExportError("not_found", f"no KPI {kpi_id} in the catalog", field="kpi")
            if domain is not None and kpi_id.partition(".")[0] != domain:
                raise ExportError("invalid_argument", f"{kpi_id} is not in domain {domain.value}", field="domain")
            return export_kpi(to_public(found, as_id=kpi_id), version=version, released_at=released_at)
