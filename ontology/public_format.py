"""The public board-KPI ontology's JSON format (v1.3.0, camelCase), as a typed model.

It is deliberately structural: it says what fields exist and what vocabulary they use,
not whether the content is sound. Soundness (benchmark order, source attribution, id
consistency) is checked separately so that an imported file with a flawed KPI can still
be read, shown and reported on rather than rejected as a whole.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kpi_context.ontology.model import (
    KPI_ID_PATTERN,
    SLUG_PATTERN,
    CohortBasis,
    Domain,
    FieldType,
    Maturity,
    MetricDateBasis,
    MetricTimeBasis,
    MoneyBasis,
    Production,
    Stage,
    StageRelevance,
    Tier,
)
from kpi_context.ontology.schema import SchemaSpec, generate, render

PUBLIC_FORMAT_VERSION = "1.3.0"
"""The format version these models follow; documents carry their own release `version`."""

PUBLIC_SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "public_kpi.schema.json"
"""The committed JSON Schema of one public KPI, generated from `PublicKpi`."""

VERSION_PATTERN = r"^\d+\.\d+\.\d+$"

Number = int | float
"""Benchmark figures keep the integer/decimal form the source wrote them in."""


class _Public(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
    )


class PublicDefinitionSource(_Public):
    tier: Tier
    source_name: str | None = None
    source_url: str | None = None
    section_ref: str | None = None
    publication_date: date | None = None
    attribution_notice: str | None = None


class PublicBenchmark(_Public):
    p25: Number
    median: Number
    p75: Number
    unit: str
    source_name: str
    source_year: str
    higher_is_better: bool


class PublicMetricBasis(_Public):
    time_basis: MetricTimeBasis | None = None
    money_basis: MoneyBasis | None = None
    cohort_basis: CohortBasis | None = None
    date_basis: MetricDateBasis | None = None
    production: Production | None = None


class PublicKpi(_Public):
    """One KPI exactly as the public ontology publishes it."""

    rogue_id: Annotated[str, Field(pattern=KPI_ID_PATTERN, description="The KPI id, domain.slug.")]
    slug: Annotated[str, Field(pattern=SLUG_PATTERN)]
    domain: Domain
    default_label: Annotated[str, Field(min_length=1)]
    description: Annotated[str, Field(min_length=1)]
    field_type: FieldType
    unit: str | None = None
    maturity: Maturity = Maturity.GENERAL
    suggested_for_stages: tuple[Stage, ...] = ()
    default_owning_functions: tuple[str, ...] = ()
    stage_relevance: dict[Stage, StageRelevance] = Field(default_factory=dict)
    definition_source: PublicDefinitionSource
    benchmark: PublicBenchmark | None = None
    formula: Annotated[str, Field(min_length=1)]
    why_it_matters: Annotated[str, Field(min_length=1)]
    interpretation_guidance: Annotated[str, Field(min_length=1)]
    related_kpi_ids: tuple[Annotated[str, Field(pattern=KPI_ID_PATTERN)], ...] = ()
    metric_basis: PublicMetricBasis | None = None

    @property
    def id(self) -> str:
        return self.rogue_id


class PublicFormat(StrEnum):
    """The three document shapes the public ontology serves."""

    KPI_ENVELOPE = "kpi"
    """`{version, releasedAt, kpi}`: one KPI (its per-KPI endpoint)."""
    DOMAIN_LIST = "domain"
    """`[...]`: the KPIs of one domain, without release metadata."""
    INDEX = "index"
    """`{version, releasedAt, kpis: [...]}`: the full catalog."""


class ReleaseHeader(_Public):
    """The release metadata of an envelope or index; other keys are checked by the importer."""

    model_config = ConfigDict(extra="ignore")

    version: Annotated[str, Field(pattern=VERSION_PATTERN)]
    released_at: date


def public_kpi_json(kpi: PublicKpi) -> dict[str, Any]:
    """The KPI as the public format writes it: camelCase, `benchmark` and `metricBasis` omitted when
    absent, and unset basis axes left out (the format's own files do the same)."""
    data: dict[str, Any] = kpi.model_dump(mode="json", by_alias=True)
    if kpi.benchmark is None:
        del data["benchmark"]
    if kpi.metric_basis is None:
        del data["metricBasis"]
    else:
        data["metricBasis"] = {k: v for k, v in data["metricBasis"].items() if v is not None}
    return data


PUBLIC_KPI_SCHEMA = SchemaSpec(
    filename=PUBLIC_SCHEMA_PATH.name,
    model=PublicKpi,
    schema_id="urn:kpi-context:schema:public-kpi",
    title="Public board-KPI ontology KPI (v1.3.0)",
    description="One KPI in the public board-KPI ontology's camelCase JSON format, as imported and exported.",
)


def public_kpi_schema_stale(directory: Path = PUBLIC_SCHEMA_PATH.parent) -> bool:
    """True when the committed schema file is missing or differs from what `PublicKpi` generates."""
    path = directory / PUBLIC_KPI_SCHEMA.filename
    return not path.is_file() or path.read_text(encoding="utf-8") != render(generate(PUBLIC_KPI_SCHEMA))


def write_public_kpi_schema(directory: Path = PUBLIC_SCHEMA_PATH.parent) -> Path:
    path = directory / PUBLIC_KPI_SCHEMA.filename
    path.write_text(render(generate(PUBLIC_KPI_SCHEMA)), encoding="utf-8")
    return path
