"""Typed findings produced while loading the catalog."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class LoadIssue(BaseModel):
    """One finding: which rule, how bad, where (file and JSON pointer), and what is wrong.

    `rule` is the stable machine-readable code, `file` is relative to the catalog root
    (posix separators) and `pointer` is an RFC 6901 JSON pointer into that file ("" for
    the whole document).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    severity: Severity
    file: str
    pointer: str
    message: str

    def render(self) -> str:
        where = f"{self.file}#{self.pointer}" if self.pointer else self.file
        return f"{self.severity.value}: {where}: [{self.rule}] {self.message}"

    @property
    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.file, self.pointer, self.rule, self.message)


def json_pointer(parts: Iterable[str | int]) -> str:
    """RFC 6901 pointer for a path of keys and indexes: ('a', 0, 'b/c') → '/a/0/b~1c'."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def errors_in(issues: Iterable[LoadIssue]) -> list[LoadIssue]:
    return [i for i in issues if i.severity is Severity.ERROR]


def warnings_in(issues: Iterable[LoadIssue]) -> list[LoadIssue]:
    return [i for i in issues if i.severity is Severity.WARNING]


class CatalogError(Exception):
    """The catalog failed to load; `issues` lists every finding (errors and warnings), not just the first."""

    def __init__(self, issues: Sequence[LoadIssue]) -> None:
        self.issues = list(issues)
        errors = errors_in(self.issues)
        first = errors[0].render() if errors else "-"
        super().__init__(f"catalog has {len(errors)} error(s); first: {first}")

    @property
    def errors(self) -> list[LoadIssue]:
        return errors_in(self.issues)
