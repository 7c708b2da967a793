"""Errors of the data layer: what a user sees when a data URI cannot be used.

Two families, because a scheduler must tell them apart: `DataError` means the data itself
(or its URI) is wrong and retrying changes nothing (the CLI exits 2); `DataUnavailableError`
means the store could not be reached (S3 endpoint down, a timeout, a 5xx), the data may be
fine and a retry may succeed (the CLI exits 1). `DataUnavailableError` is deliberately not a
`DataError`, so `except DataError` never swallows an outage as bad data.
"""

from __future__ import annotations

from mingo.data.problems import ValidationReport


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


class DataUnavailableError(Exception):
    """The store holding a data URI could not be reached; retrying later may succeed."""

    def __init__(self, uri: str, cause: str) -> None:
        super().__init__(f"{uri}: {cause} (the store is unavailable; retry later)")
        self.uri = uri
        self.cause = cause
