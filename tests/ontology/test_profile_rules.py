"""The semantic rules a governance profile must pass: pin, locks, benchmarks, rates, labels, definitions, approvals."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kpi_context.ontology.catalog import CATALOG_ROOT, Catalog
from kpi_context.ontology.issues import Severity
from kpi_context.ontology.loader import load_catalog
from kpi_context.ontology.profile import DefinitionStatus, KpiDefinition, definition_hash
from kpi_context.ontology.profile_loader import check_profile
from tests.support.profiles import example_document, minimal_document, write


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def findings(tmp_path, catalog, document: dict[str, Any]) -> list[tuple[str, str, Severity]]:
    report = check_profile(write(tmp_path, document), catalog)
    return [(issue.rule, issue.pointer, issue.severity) for issue in report.issues]


def test_the_bundled_example_profile_passes_every_rule(tmp_path, catalog):
    assert findings(tmp_path, catalog, example_document()) == []


def test_a_profile_pinned_to_another_catalog_version_is_refused(tmp_path, catalog):
    report = check_profile(write(tmp_path, minimal_document(catalog_version="1.1.0")), catalog)
    assert report.profile is None
    [issue] = report.errors
    assert (issue.rule, issue.pointer) == ("catalog_pin", "/catalog_version")
    assert "pinned to catalog 1.1.0" in issue.message and catalog.version in issue.message


def lock(**fields: Any) -> dict[str, Any]:
    base = {
        "kpi": "sales.avg_contract_value",
        "policy": "ACV policy",
        "approval": {"approver": "Pat Lee", "approved_on": "2026-09-01"},
    }
    return {**base, **fields}


@pytest.mark.parametrize(
    ("bad", "pointer"),
    [
        (lock(kpi="sales.no_such_kpi", variant="default"), "/locks/0/kpi"),
        (lock(variant="second_year"), "/locks/0/variant"),
        # grr_cap is an option of gross retention, not of ACV.
        (lock(basis={"grr_cap": "aggregate"}), "/locks/0/basis/grr_cap"),
        (lock(basis={"discounts": "gross"}), "/locks/0/basis/discounts"),
        (lock(basis={"rounding": "up"}), "/locks/0/basis/rounding"),
        # The first_year variant annualizes by the first contract year, not TCV ÷ term.
        (lock(variant="first_year", basis={"annualization": "tcv_over_term_years"}), "/locks/0/basis/annualization"),
    ],
)
def test_a_lock_must_name_a_kpi_a_variant_and_options_it_has(tmp_path, catalog, bad, pointer):
    assert findings(tmp_path, catalog, minimal_document(locks=[bad])) == [("lock_resolves", pointer, Severity.ERROR)]


def test_a_lock_that_decides_nothing_is_refused_by_the_model(tmp_path, catalog):
    [(rule, pointer, _)] = findings(tmp_path, catalog, minimal_document(locks=[lock()]))
    assert (rule, pointer) == ("model", "/locks/0")


def test_two_locks_on_one_kpi_are_refused(tmp_path, catalog):
    twice = [lock(variant="first_year"), lock(variant="default")]
    assert findings(tmp_path, catalog, minimal_document(locks=twice)) == [
        ("profile_unique", "/locks/1", Severity.ERROR)
    ]


def test_a_rate_for_the_reporting_currency_itself_is_refused(tmp_path, catalog):
    rates = [{"currency": "USD", "rate": "1", "on": "2026-09-30"}]
    assert findings(tmp_path, catalog, minimal_document(fx_rates=rates)) == [
        ("fx_rate", "/fx_rates/0/currency", Severity.ERROR)
    ]


def test_a_non_positive_rate_is_refused_before_the_rules(tmp_path, catalog):
    # "0" is a decimal the schema accepts as text; the model stage refuses it (rates are > 0).
    rates = [{"currency": "EUR", "rate": "0", "on": "2026-09-30"}]
    [(rule, pointer, _)] = findings(tmp_path, catalog, minimal_document(fx_rates=rates))
    assert (rule, pointer) == ("model", "/fx_rates/0/rate")


def test_an_organisation_benchmark_needs_ordered_quartiles(tmp_path, catalog):
    bench = {
        "kpi": "customers.net_revenue_retention",
        "role": "replacement",
        "benchmark": {
            "p25": 110,
            "median": 105,
            "p75": 120,
            "unit": "%",
            "source_name": "Board targets",
            "source_year": "2026",
            "higher_is_better": True,
        },
    }
    assert findings(tmp_path, catalog, minimal_document(benchmarks=[bench])) == [
        ("profile_benchmark", "/benchmarks/0/benchmark", Severity.ERROR)
    ]


def test_a_slide_label_for_an_unknown_kpi_is_refused(tmp_path, catalog):
    labels = [{"kpi": "sales.unknown_thing", "label": "Thing"}]
    assert findings(tmp_path, catalog, minimal_document(slide_labels=labels)) == [
        ("slide_label", "/slide_labels/0/kpi", Severity.ERROR)
    ]


def catalog_definition(kpi_id: str) -> dict[str, Any]:
    domain, slug = kpi_id.split(".")
    data: dict[str, Any] = json.loads((CATALOG_ROOT / "kpis" / domain / f"{slug}.json").read_text(encoding="utf-8"))
    return data


def test_an_organisation_definition_is_type_checked_like_a_catalog_definition(tmp_path, catalog):
    # Burn multiple divided by a per-customer amount: the unit/grain checker rejects it in the catalog, and here.
    burn = catalog_definition("finance.burn_multiple")
    burn["expression"]["inputs"][1] = {"name": "sales.net_new_arr", "kpi": "sales.avg_contract_value"}
    rules = {rule for rule, pointer, severity in findings(tmp_path, catalog, minimal_document(definitions=[burn]))}
    assert any(rule.startswith("expression") or rule.startswith("input") for rule in rules), rules


def approved(definition: dict[str, Any]) -> dict[str, Any]:
    return {
        "kpi": definition["id"],
        "approver": "Pat Lee",
        "approved_on": "2026-09-01",
        "definition_hash": definition_hash(KpiDefinition.model_validate(definition)),
    }


def test_a_definition_whose_approval_carries_its_hash_is_approved(tmp_path, catalog):
    burn = catalog_definition("finance.burn_multiple")
    document = minimal_document(definitions=[burn], definition_approvals=[approved(burn)])
    report = check_profile(write(tmp_path, document), catalog)
    assert report.issues == ()
    assert report.profile is not None
    assert report.profile.status_of("finance.burn_multiple") is DefinitionStatus.APPROVED


def test_changing_an_approved_definition_resets_it_to_proposed_until_approved_again(tmp_path, catalog):
    burn = catalog_definition("finance.burn_multiple")
    approval = approved(burn)
    changed = copy.deepcopy(burn)
    changed["interpretation_guidance"] = "Lower is better; Acme asks for an explanation above 1.5."
    report = check_profile(
        write(tmp_path, minimal_document(definitions=[changed], definition_approvals=[approval])), catalog
    )
    assert report.profile is not None  # a warning, not an error: the server still runs
    assert report.profile.status_of("finance.burn_multiple") is DefinitionStatus.PROPOSED
    [issue] = report.warnings
    assert (issue.rule, issue.pointer) == ("definition_approval", "/definitions/0")
    assert "changed since Pat Lee approved it on 2026-09-01" in issue.message
    # Approving the new text (its new hash) makes it approved again.
    reapproved = minimal_document(definitions=[changed], definition_approvals=[approval, approved(changed)])
    report = check_profile(write(tmp_path, reapproved), catalog)
    assert report.profile is not None
    assert report.profile.status_of("finance.burn_multiple") is DefinitionStatus.APPROVED


def test_an_approval_for_a_kpi_the_profile_does_not_define_is_refused(tmp_path, catalog):
    burn = catalog_definition("finance.burn_multiple")
    assert findings(tmp_path, catalog, minimal_document(definition_approvals=[approved(burn)])) == [
        ("definition_approval", "/definition_approvals/0/kpi", Severity.ERROR)
    ]
