"""Typed findings produced while loading the catalog."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class LoadIssue(BaseModel):
    """One finding: which rule, how bad, where (file and JSON pointer), and what is wrong."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    severity: Severity
    file: str
    pointer: str
    message: str

    def render(self) -> str:
        return f"{self.severity.value}: {self.file}{self.pointer or ''}: [{self.rule}] {self.message}"


class CatalogError(Exception):
    """The catalog failed to load; `issues` lists every error found, not just the first."""

    def __init__(self, issues: list[LoadIssue]) -> None:
        self.issues = issues
        errors = [i for i in issues if i.severity is Severity.ERROR]
        super().__init__(f"catalog has {len(errors)} error(s); first: {errors[0].render() if errors else '-'}")
