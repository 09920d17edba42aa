"""Exchange with the public ontology's formats: imports as separate sources, exports of our catalog, round trips.

The always-run tests read our own small documents in the public format (tests/fixtures/public).
The seed documents the project was specified from are used when they sit beside the repository
(../shared/seeds); a clean clone does not have them, and those tests then skip.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from kpi_context.ontology.interop import (
    ExportError,
    ImportErrorCode,
    ImportFailure,
    PublicFormat,
    compare_overlaps,
    export_catalog,
    export_source,
    import_public,
    import_public_bytes,
    overlaps,
    parse_public_document,
    to_public,
)
from kpi_context.ontology.issues import Severity
from kpi_context.ontology.loader import load_catalog
from kpi_context.ontology.model import Domain
from kpi_context.ontology.public_fetch import FetchLimits

PUBLIC = Path(__file__).resolve().parents[1] / "fixtures" / "public"
SEEDS = Path(__file__).resolve().parents[2] / ".." / "shared" / "seeds"
PUBLIC_KPI_FIELDS = {
    "rogueId",
    "slug",
    "domain",
    "defaultLabel",
    "description",
    "fieldType",
    "unit",
    "maturity",
    "suggestedForStages",
    "defaultOwningFunctions",
    "stageRelevance",
    "definitionSource",
    "benchmark",
    "formula",
    "whyItMatters",
    "interpretationGuidance",
    "relatedKpiIds",
    "metricBasis",
}


def seed_document(number: str) -> object:
    """The JSON document inside a seed file, which may carry text around it."""
    matches = sorted(SEEDS.glob(f"{number}_*.txt")) if SEEDS.is_dir() else []
    if not matches:
        pytest.skip(f"seed {number} is not beside this checkout ({SEEDS.resolve()}); clean clones lack it")
    text = matches[0].read_text(encoding="utf-8")
    start = min(i for i in (text.find("{"), text.find("[")) if i >= 0)
    document, _ = json.JSONDecoder().raw_decode(text[start:])
    return document


def index_with(*kpis: dict) -> dict:
    return {"version": "1.3.0", "releasedAt": "2026-05-20", "kpis": list(kpis)}


def public_kpi(**changes) -> dict:
    base = json.loads((PUBLIC / "domain_list.json").read_text(encoding="utf-8"))[1]
    return {**base, **changes}


# --- imports of the three shapes ------------------------------------------------------------


def test_a_single_kpi_envelope_imports_with_its_release_header():
    source = import_public(PUBLIC / "kpi_envelope.json")

    assert source.format is PublicFormat.KPI_ENVELOPE
    assert (source.version, source.released_at) == ("1.3.0", date(2026, 5, 20))
    assert list(source.kpis) == ["customers.acv_trend_pct"]
    assert source.issues == ()
    assert source.name == "public ontology kpi (kpi_envelope.json, v1.3.0)"


def test_a_domain_list_imports_without_a_release_header():
    source = import_public(PUBLIC / "domain_list.json", name="vendor sales list")

    assert source.format is PublicFormat.DOMAIN_LIST
    assert source.version is None
    assert source.name == "vendor sales list"
    assert list(source.kpis) == ["sales.arr", "sales.magic_number", "sales.gross_margin"]


def test_a_full_index_imports_every_domain():
    source = import_public(PUBLIC / "index.json")

    assert source.format is PublicFormat.INDEX
    assert {k.domain for k in source.kpis.values()} == {Domain.CUSTOMERS, Domain.SALES, Domain.HR}
    assert source.ok


@pytest.mark.parametrize("name", ["kpi_envelope.json", "domain_list.json", "index.json"])
def test_exporting_an_imported_document_reproduces_it_exactly(name):
    original = json.loads((PUBLIC / name).read_text(encoding="utf-8"))

    assert export_source(import_public(PUBLIC / name)) == original


@pytest.mark.parametrize("name", ["kpi_envelope.json", "domain_list.json", "index.json"])
def test_import_export_import_gives_the_same_source(name):
    first = import_public(PUBLIC / name)
    again = parse_public_document(export_source(first), origin=first.origin, name=first.name)

    assert again == first


def test_benchmark_figures_keep_their_integer_or_decimal_form():
    bench = import_public(PUBLIC / "domain_list.json").kpis["sales.gross_margin"].benchmark

    assert bench is not None
    assert (type(bench.p25), type(bench.p75)) == (int, float)


# --- the seeds ------------------------------------------------------------------------------


def test_seed_000_imports_as_a_kpi_envelope_with_its_metric_basis():
    document = seed_document("000")

    source = parse_public_document(document, origin="seed 000")

    kpi = source.kpis["customers.acv_trend_pct"]
    assert source.format is PublicFormat.KPI_ENVELOPE
    assert source.version == "1.3.0"
    assert kpi.metric_basis is not None
    assert (kpi.metric_basis.time_basis.value, kpi.metric_basis.production.value) == ("trailing_window", "computed")
    assert source.issues == ()


def test_seed_002_imports_ten_sales_kpis_without_issues():
    source = parse_public_document(seed_document("002"), origin="seed 002")

    assert source.format is PublicFormat.DOMAIN_LIST
    assert len(source.kpis) == 10
    assert {k.domain for k in source.kpis.values()} == {Domain.SALES}
    assert {"sales.arr", "sales.cac", "sales.cac_payback_period", "sales.carr"} <= set(source.kpis)
    assert source.issues == ()


@pytest.mark.parametrize("number", ["000", "002"])
def test_seed_documents_round_trip_exactly(number):
    document = seed_document(number)

    source = parse_public_document(document, origin=f"seed {number}")

    assert export_source(source) == document
    assert parse_public_document(export_source(source), origin=f"seed {number}") == source


def test_seed_002_lists_its_overlaps_with_our_catalog_and_changes_nothing(fixture_catalog):
    before = {p: p.read_bytes() for p in fixture_catalog.root.rglob("*.json")}
    catalog = load_catalog(fixture_catalog.root)
    source = parse_public_document(seed_document("002"), origin="seed 002")

    shared = overlaps(source, catalog.kpis)

    assert shared == [
        "sales.arr",
        "sales.avg_contract_value",
        "sales.cac",
        "sales.cac_payback_period",
        "sales.gross_margin",
    ]
    assert {p: p.read_bytes() for p in fixture_catalog.root.rglob("*.json")} == before


# --- imports never overwrite our catalog ------------------------------------------------------


def test_an_import_redefining_one_of_our_ids_is_listed_as_an_overlap_and_ours_stays(fixture_catalog, tmp_path):
    rival = public_kpi(rogueId="sales.arr", slug="arr", defaultLabel="Run-rate revenue")
    path = tmp_path / "rival.json"
    path.write_text(json.dumps(index_with(rival)), encoding="utf-8")
    before = {p: p.read_bytes() for p in fixture_catalog.root.rglob("*.json")}

    source = import_public(path, name="rival list")
    catalog = load_catalog(fixture_catalog.root)
    found = compare_overlaps(source, catalog)

    assert [o.kpi_id for o in found] == ["sales.arr"]
    assert "defaultLabel" in found[0].differing_fields
    assert catalog.kpis["sales.arr"].label == "ARR"
    assert source.kpis["sales.arr"].default_label == "Run-rate revenue"
    assert {p: p.read_bytes() for p in fixture_catalog.root.rglob("*.json")} == before


# --- exports of our catalog ------------------------------------------------------------------


def test_our_catalog_exported_as_an_index_imports_back_without_issues(fixture_catalog):
    catalog = load_catalog(fixture_catalog.root)

    document = export_catalog(
        catalog, PublicFormat.INDEX, version=catalog.version, released_at=catalog.manifest.released_at
    )
    source = parse_public_document(document, origin="our export")

    assert source.issues == ()
    assert sorted(source.kpis) == sorted(catalog.kpis)
    assert source.version == "0.3.0"


def test_the_export_carries_only_the_public_fields_in_camel_case(fixture_catalog):
    catalog = load_catalog(fixture_catalog.root)

    document = export_catalog(
        catalog, PublicFormat.KPI_ENVELOPE, version="0.3.0", released_at=date(2026, 10, 1), kpi_id="sales.cac"
    )

    assert isinstance(document, dict)
    assert set(document) == {"version", "releasedAt", "kpi"}
    assert set(document["kpi"]) <= PUBLIC_KPI_FIELDS
    assert document["kpi"]["defaultLabel"] == "CAC"
    assert "binding" not in document["kpi"]


def test_a_domain_export_holds_that_domain_only_sorted_by_id(fixture_catalog):
    catalog = load_catalog(fixture_catalog.root)

    document = export_catalog(
        catalog, PublicFormat.DOMAIN_LIST, version="0.3.0", released_at=date(2026, 10, 1), domain=Domain.CUSTOMERS
    )

    assert isinstance(document, list)
    assert [k["rogueId"] for k in document] == [
        "customers.acv_trend_pct",
        "customers.avg_contract_value",
        "customers.churn_risks",
        "customers.total_customers",
    ]
    assert import_public_bytes(json.dumps(document).encode(), origin="export").ok


def test_to_public_maps_our_names_onto_theirs(fixture_catalog):
    margin = load_catalog(fixture_catalog.root).kpis["sales.gross_margin"]

    public = to_public(margin)

    assert (public.rogue_id, public.default_label, public.unit) == ("sales.gross_margin", "Gross Margin", "%")
    assert public.benchmark is not None
    # 65.0 stored as a float in our model is written back as the integer 65.
    assert type(public.benchmark.p25) is int


@pytest.mark.parametrize(
    ("fmt", "options", "code", "field"),
    [
        (PublicFormat.INDEX, {"domain": Domain.SALES}, "invalid_argument", "format"),
        (PublicFormat.DOMAIN_LIST, {}, "invalid_argument", "domain"),
        (PublicFormat.KPI_ENVELOPE, {}, "invalid_argument", "kpi"),
        (PublicFormat.KPI_ENVELOPE, {"kpi_id": "sales.win_rate"}, "not_found", "kpi"),
        (PublicFormat.KPI_ENVELOPE, {"kpi_id": "sales.cac", "domain": Domain.HR}, "invalid_argument", "domain"),
    ],
)
def test_export_requests_that_cannot_be_met_fail_with_a_code_and_field(fixture_catalog, fmt, options, code, field):
    catalog = load_catalog(fixture_catalog.root)

    with pytest.raises(ExportError) as caught:
        export_catalog(catalog, fmt, version="0.3.0", released_at=date(2026, 10, 1), **options)

    assert (caught.value.code, caught.value.field) == (code, field)


# --- flawed documents --------------------------------------------------------------------------


def test_quartiles_out_of_order_are_reported_at_the_benchmark_pointer():
    bench = {
        "p25": 80,
        "median": 75,
        "p75": 90,
        "unit": "%",
        "sourceName": "X",
        "sourceYear": "2024",
        "higherIsBetter": True,
    }
    document = index_with(
        public_kpi(rogueId="sales.magic_number"),
        public_kpi(rogueId="sales.gross_margin", slug="gross_margin", benchmark=bench),
    )

    source = parse_public_document(document, origin="flawed.json")

    assert [(i.rule, i.pointer) for i in source.errors] == [("benchmark_order", "/kpis/1/benchmark")]
    # The flawed KPI is still readable, so it can be shown and reported on.
    assert "sales.gross_margin" in source.kpis
    with pytest.raises(ImportFailure) as caught:
        source.require_valid()
    assert caught.value.code is ImportErrorCode.INVALID_DEFINITION


def test_a_published_kpi_without_a_source_date_is_reported():
    source_block = {"tier": "published", "sourceName": "Somebody", "publicationDate": None}
    document = index_with(public_kpi(definitionSource=source_block))

    source = parse_public_document(document, origin="x")

    assert [(i.rule, i.pointer) for i in source.errors] == [("published_source", "/kpis/0/definitionSource")]


def test_an_id_that_is_not_domain_dot_slug_is_reported():
    source = parse_public_document(index_with(public_kpi(slug="magic")), origin="x")

    assert [(i.rule, i.pointer) for i in source.errors] == [("id_domain_slug", "/kpis/0/rogueId")]


def test_a_structurally_broken_kpi_is_reported_by_pointer_and_left_out():
    broken = public_kpi()
    del broken["defaultLabel"]
    document = index_with(broken, "not an object", public_kpi(rogueId="sales.gross_margin", slug="gross_margin"))

    source = parse_public_document(document, origin="x")

    assert {(i.rule, i.pointer) for i in source.errors} == {
        ("public_schema", "/kpis/0/defaultLabel"),
        ("public_schema", "/kpis/1"),
    }
    assert list(source.kpis) == ["sales.gross_margin"]


def test_a_repeated_id_keeps_the_first_and_reports_the_second():
    source = parse_public_document(index_with(public_kpi(), public_kpi(defaultLabel="Other")), origin="x")

    assert [(i.rule, i.pointer) for i in source.errors] == [("duplicate_id", "/kpis/1/rogueId")]
    assert source.kpis["sales.magic_number"].default_label == "Magic Number"


def test_unknown_top_level_fields_and_mixed_domain_lists_are_warnings():
    with_extra = parse_public_document({**index_with(public_kpi()), "generator": "x"}, origin="x")
    mixed = parse_public_document(json.loads((PUBLIC / "index.json").read_text())["kpis"], origin="x")

    assert [(i.rule, i.severity, i.pointer) for i in with_extra.issues] == [
        ("ignored_field", Severity.WARNING, "/generator")
    ]
    assert [(i.rule, i.severity) for i in mixed.issues] == [("mixed_domains", Severity.WARNING)]
    assert with_extra.ok and mixed.ok


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (public_kpi(), "a bare KPI"),
        (42, "found int"),
        ([], "holds no KPIs"),
        ({"version": "1.3.0", "releasedAt": "2026-05-20", "kpi": {}, "kpis": []}, "not a KPI envelope"),
        ({"version": "1.3.0", "kpis": [public_kpi()]}, "release header"),
        ({"version": "1.3.0", "releasedAt": "2026-05-20", "kpis": {}}, "must be an array"),
    ],
)
def test_documents_of_no_known_shape_are_refused(document, fragment):
    with pytest.raises(ImportFailure) as caught:
        parse_public_document(document, origin="x")

    assert caught.value.code is ImportErrorCode.UNSUPPORTED_FORMAT
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b'{"version": ', "not valid JSON"),
        (b'[{"p25": NaN}]', "NaN is not valid JSON"),
        (b'{"label": "\xff"}', "not UTF-8 text"),
    ],
)
def test_bytes_that_are_not_strict_json_are_refused_as_bad_json(data, fragment):
    with pytest.raises(ImportFailure) as caught:
        import_public_bytes(data, origin="x")

    assert caught.value.code is ImportErrorCode.BAD_JSON
    assert fragment in caught.value.message


def test_file_sources_that_are_missing_a_directory_or_too_large_are_refused(tmp_path):
    big = tmp_path / "big.json"
    big.write_text(json.dumps(index_with(public_kpi())), encoding="utf-8")

    codes = []
    for source, limits in (
        (tmp_path / "absent.json", FetchLimits()),
        (tmp_path, FetchLimits()),
        (big, FetchLimits(max_bytes=100)),
    ):
        with pytest.raises(ImportFailure) as caught:
            import_public(source, limits=limits)
        codes.append(caught.value.code)

    assert codes == [ImportErrorCode.NOT_FOUND, ImportErrorCode.UNREADABLE, ImportErrorCode.TOO_LARGE]


# --- merged ids stay exportable and importable ---------------------------------------------------


def _with_merged_margin(fixture_catalog):
    fixture_catalog.edit("kpis/sales/gross_margin.json", lambda d: d.update(merged_ids=["finance.gross_margin_pct"]))
    return load_catalog(fixture_catalog.root)


def test_a_merged_id_is_exported_in_the_index_and_in_its_own_domain(fixture_catalog):
    catalog = _with_merged_margin(fixture_catalog)

    index = export_catalog(catalog, PublicFormat.INDEX, version="0.3.0", released_at=date(2026, 10, 1))
    finance = export_catalog(
        catalog, PublicFormat.DOMAIN_LIST, version="0.3.0", released_at=date(2026, 10, 1), domain=Domain.FINANCE
    )

    assert isinstance(index, dict) and isinstance(finance, list)
    ids = [k["rogueId"] for k in index["kpis"]]
    assert "finance.gross_margin_pct" in ids and "sales.gross_margin" in ids
    assert [k["rogueId"] for k in finance] == ["finance.gross_margin_pct", "finance.total_sm"]
    assert (finance[0]["slug"], finance[0]["domain"], finance[0]["defaultLabel"]) == (
        "gross_margin_pct",
        "finance",
        "Gross Margin",
    )
    assert parse_public_document(index, origin="export with a merged id").issues == ()


def test_a_merged_id_can_be_exported_as_a_single_kpi_envelope(fixture_catalog):
    catalog = _with_merged_margin(fixture_catalog)

    document = export_catalog(
        catalog,
        PublicFormat.KPI_ENVELOPE,
        version="0.3.0",
        released_at=date(2026, 10, 1),
        kpi_id="finance.gross_margin_pct",
    )

    assert isinstance(document, dict)
    assert document["kpi"]["rogueId"] == "finance.gross_margin_pct"
    assert document["kpi"]["formula"] == catalog.kpis["sales.gross_margin"].formula


def test_an_imported_kpi_under_a_merged_id_overlaps_the_kpi_it_was_merged_into(fixture_catalog):
    catalog = _with_merged_margin(fixture_catalog)
    theirs = public_kpi(rogueId="finance.gross_margin_pct", slug="gross_margin_pct", domain="finance")
    source = parse_public_document(index_with(theirs), origin="public margin")

    found = compare_overlaps(source, catalog)

    assert [o.kpi_id for o in found] == ["finance.gross_margin_pct"]
    assert "rogueId" not in found[0].differing_fields


def test_to_public_refuses_an_id_the_kpi_does_not_answer_to(fixture_catalog):
    margin = load_catalog(fixture_catalog.root).kpis["sales.gross_margin"]

    with pytest.raises(ExportError) as caught:
        to_public(margin, as_id="finance.gross_margin_pct")

    assert (caught.value.code, caught.value.field) == ("not_found", "kpi")


def test_a_benchmark_measured_under_a_variant_is_not_exported_as_the_default_rules(fixture_catalog):
    def measure_a_variant(document):
        document["variants"] = [
            {
                "id": "subscription",
                "label": "subscription only",
                "description": "Subscription revenue and its cost only.",
                "binding": {**document["binding"], "recurring_inclusion": "recurring_only"},
            }
        ]
        document["benchmark"]["variant"] = "subscription"

    fixture_catalog.edit("kpis/sales/gross_margin.json", measure_a_variant)
    margin = load_catalog(fixture_catalog.root).kpis["sales.gross_margin"]

    # The public format has no field for the variant, so writing the quartiles would attach them to the default.
    assert to_public(margin).benchmark is None
