"""Errors of the data layer: what a user sees when a data URI cannot be used."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mingo.data.validate import ValidationReport


class DataError(Exception):
    """A data URI could not be read or written; the message names the URI and the cause."""

    def __init__(self, uri: str, cause: str) -> None:
        super().__init__(f"{uri}: {cause}")
        self.uri = uri
        self.cause = cause


class DataValidationError(DataError):
    """The data was read but is unusable; `report` lists every rejecting problem."""

    def __init__(self, uri: str, report: ValidationReport) -> None:
        lines = [problem.message() for problem in report.rejecting_problems()]
        super().__init__(uri, "rejected:\n  " + "\n  ".join(lines))
        self.report = report
