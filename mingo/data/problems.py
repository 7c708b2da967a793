"""What validation finds: one `Problem` per broken rule, gathered in a `ValidationReport`.

These types are shared by `mingo.data.validate` (which finds the problems) and
`mingo.data.errors` (whose `DataValidationError` carries the report), so they live here,
below both, and neither of those modules has to import the other to name them.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Severity(StrEnum):
    REJECT = "reject"
    DROP = "drop"


class Problem(BaseModel):
    """One broken rule; `column` is None for problems of the file as a whole."""

    model_config = ConfigDict(frozen=True)

    column: str | None
    rule: str
    severity: Severity
    row_count: int
    first_rows: list[int]

    def message(self) -> str:
        where = f"column '{self.column}'" if self.column is not None else "file"
        text = f"{where}: rule '{self.rule}'"
        if self.row_count:
            rows = ", ".join(str(row) for row in self.first_rows)
            noun = "row" if self.row_count == 1 else "rows"
            text += f": {self.row_count} {noun}, first rows {rows}"
        return text


class ValidationReport(BaseModel):
    """Every problem found in a purchases file or frame."""

    model_config = ConfigDict(frozen=True)

    rows: int
    problems: list[Problem]
    dropped_rows: int  # distinct rows removed by DROP rules (a row may break several)

    @property
    def rejected(self) -> bool:
        return any(problem.severity is Severity.REJECT for problem in self.problems)

    def rejecting_problems(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.REJECT]

    def dropping_problems(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.DROP]

    def dropped_by_rule(self) -> dict[str, int]:
        return {p.rule: p.row_count for p in self.dropping_problems()}
