"""Fixtures for catalog tests: a small clean catalog copied into a temporary directory per test.

The catalog under tests/fixtures/catalog loads with no issue at all; each rule test edits one
file of its copy and asserts what the loader reports, by file and JSON pointer.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kpi_context.ontology.issues import LoadIssue, Severity
from kpi_context.ontology.loader import LoadReport, check_catalog

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bundled_catalog: needs the full bundled catalog under ontology/ to load without errors"
    )


@dataclass(frozen=True)
class Outcome:
    """A load report with the lookups the rule tests assert on."""

    report: LoadReport

    def findings(self, rule: str, severity: Severity = Severity.ERROR) -> set[tuple[str, str]]:
        """(file, pointer) of every issue `rule` raised at `severity`."""
        return {(i.file, i.pointer) for i in self.report.issues if i.rule == rule and i.severity is severity}

    def only(self, rule: str) -> LoadIssue:
        """The single issue `rule` raised; fails listing every issue otherwise."""
        matching = [i for i in self.report.issues if i.rule == rule]
        assert len(matching) == 1, self.rendered()
        return matching[0]

    def rules(self) -> set[str]:
        return {i.rule for i in self.report.issues}

    def rendered(self) -> list[str]:
        return [i.render() for i in self.report.issues]


class FixtureCatalog:
    """A writable copy of the fixture catalog."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, relative: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.root / relative).read_text(encoding="utf-8"))
        return data

    def write(self, relative: str, document: object) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")

    def edit(self, relative: str, change: Callable[[dict[str, Any]], object]) -> None:
        document = self.read(relative)
        change(document)
        self.write(relative, document)

    def check(self) -> Outcome:
        return Outcome(check_catalog(self.root))


@pytest.fixture
def fixture_catalog(tmp_path: Path) -> FixtureCatalog:
    root = tmp_path / "catalog"
    shutil.copytree(FIXTURES / "catalog", root)
    return FixtureCatalog(root)
