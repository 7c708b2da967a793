"""Reading and writing purchases as CSV or Parquet, on a local path or `s3://bucket/key`.

CSV comes in two variants, both accepted: the standard one (`,` and `YYYY-MM-DD`) and the
circulating `;` + `DD/MM/YYYY` copy (decimal commas allowed). Every column is read as
text first so ids like "0" stay strings and the validator can name any value that does
not convert. Writing uses pyarrow's CSV writer: pandas' `to_csv` is several times slower
at ClickBus scale (see benchmarks/bench_generate.py). A Parquet column of lists, structs,
maps or binary values is rejected by name and type (rule "column holds text, numbers or
dates"), never read as something else.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from mingo.config import S3Settings
from mingo.data.convert import to_canonical
from mingo.data.errors import DataError, DataValidationError
from mingo.data.schema import COLUMNS, DATE
from mingo.data.storage import readable_local_file, uri_suffix, writable_local_file
from mingo.data.validate import (
    RULE_FIELD_COUNT,
    RULE_HAS_ROWS,
    Problem,
    Severity,
    ValidationReport,
    file_problem,
    validate_text_frame,
)

CSV_SUFFIX = ".csv"
PARQUET_SUFFIX = ".parquet"
SUPPORTED_SUFFIXES = (CSV_SUFFIX, PARQUET_SUFFIX)
FIRST_ROWS_SHOWN = 5
RULE_SCALAR_COLUMN = "column holds text, numbers or dates"


@dataclass(frozen=True)
class TextPurchases:
    """A purchases file read as text: every cell a string, with its 1-based row numbers.

    `problems` holds what was wrong with the file's structure itself (rows with the wrong
    number of fields, no data at all); those rows are not in `frame`.
    """

    frame: pd.DataFrame
    row_numbers: np.ndarray
    problems: list[Problem] = field(default_factory=list)


def _checked_suffix(uri: str) -> str:
    suffix = uri_suffix(uri)
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(
            uri, f"unsupported format {suffix or '(no extension)'!r}: use .csv or .parquet"
        )
    return suffix


def read_purchases_text(uri: str, s3: S3Settings | None = None) -> TextPurchases:
    """Reads a purchases file as text, without judging its values (`s3` for s3:// URIs)."""
    suffix = _checked_suffix(uri)
    with readable_local_file(uri, s3) as path:
        if suffix == CSV_SUFFIX:
            return _read_csv_text(uri, path)
        return _read_parquet_text(uri, path)


def validate_purchases_uri(uri: str, s3: S3Settings | None = None) -> ValidationReport:
    """Reads and validates the file at `uri` (a `DataError` if it cannot be read)."""
    _, report = _read_and_validate(uri, s3)
    return report


def load_purchases(uri: str, s3: S3Settings | None = None) -> pd.DataFrame:
    """The canonical purchases frame of `uri`, DROP rows included (see `clean_purchases`).

    `s3` says how to reach the server of an s3:// URI (none is needed for a local path).
    Raises `DataValidationError` (a `DataError`) when the file is rejected.
    """
    text, report = _read_and_validate(uri, s3)
    if report.rejected:
        raise DataValidationError(uri, report)
    return to_canonical(text.frame)


def _read_and_validate(uri: str, s3: S3Settings | None) -> tuple[TextPurchases, ValidationReport]:
    text = read_purchases_text(uri, s3)
    report = validate_text_frame(text.frame, text.row_numbers)
    if not text.problems:
        return text, report
    reported = {(p.column, p.rule) for p in text.problems}
    # A column the reader could not turn into text is named once, not again per value rule.
    unreadable = {p.column for p in text.problems if p.column is not None}
    problems = text.problems + [
        p
        for p in report.problems
        if (p.column, p.rule) not in reported and p.column not in unreadable
    ]
    return text, report.model_copy(update={"problems": problems})


def save_purchases(frame: pd.DataFrame, uri: str, s3: S3Settings | None = None) -> None:
    """Writes a canonical purchases frame as CSV (standard variant) or Parquet."""
    suffix = _checked_suffix(uri)
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise DataError(uri, f"frame lacks columns {missing}; expected {list(COLUMNS)}")
    table = pa.Table.from_pandas(frame[list(COLUMNS)], preserve_index=False)
    dates = table.column(DATE)
    if pa.types.is_timestamp(dates.type):
        table = table.set_column(COLUMNS.index(DATE), DATE, pc.cast(dates, pa.date32()))
    with writable_local_file(uri, s3) as path:
        if suffix == CSV_SUFFIX:
            _write_csv(table, path)
        else:
            pq.write_table(table, path, compression="zstd")


def _write_csv(table: pa.Table, path: Path) -> None:
    # The real file is unquoted; quote only if some value holds a structural character.
    unquoted = pa_csv.WriteOptions(quoting_style="none", quoting_header="none")
    try:
        pa_csv.write_csv(table, path, unquoted)
    except pa.ArrowInvalid:
        pa_csv.write_csv(table, path, pa_csv.WriteOptions(quoting_style="needed"))


def _csv_header(uri: str, path: Path) -> tuple[list[str], str]:
    """Column names and delimiter (',' or ';') from the first line."""
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        first_line = handle.readline()
    if not first_line.strip():
        return [], ","
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    header = next(csv.reader([first_line], delimiter=delimiter))
    return [name.strip() for name in header], delimiter


def _read_csv_text(uri: str, path: Path) -> TextPurchases:
    try:
        header, delimiter = _csv_header(uri, path)
    except UnicodeDecodeError as error:
        raise DataError(uri, f"not a UTF-8 text file ({error.reason})") from error
    if not header:
        return TextPurchases(
            frame=pd.DataFrame({column: pd.Series(dtype="str") for column in COLUMNS}),
            row_numbers=np.empty(0, dtype=np.int64),
            problems=[file_problem(None, RULE_HAS_ROWS)],
        )
    if len(set(header)) != len(header):
        duplicated = sorted({name for name in header if header.count(name) > 1})
        raise DataError(uri, f"header repeats columns {duplicated}")
    table, malformed = _read_csv_table(uri, path, header, delimiter, use_threads=True)
    if malformed:
        # Only a single-threaded read reports line numbers; pay for it only when needed.
        table, malformed = _read_csv_table(uri, path, header, delimiter, use_threads=False)
    frame = table.to_pandas()
    skipped = np.array(sorted(line - 1 for line in malformed), dtype=np.int64)
    row_numbers = _kept_row_numbers(len(frame), skipped)
    problems: list[Problem] = []
    if skipped.size:
        problems.append(
            Problem(
                column=None,
                rule=RULE_FIELD_COUNT,
                severity=Severity.REJECT,
                row_count=int(skipped.size),
                first_rows=[int(row) for row in skipped[:FIRST_ROWS_SHOWN]],
            )
        )
    return TextPurchases(frame=frame, row_numbers=row_numbers, problems=problems)


def _read_csv_table(
    uri: str, path: Path, header: list[str], delimiter: str, *, use_threads: bool
) -> tuple[pa.Table, list[int]]:
    malformed_lines: list[int] = []

    def skip_malformed(row: pa_csv.InvalidRow) -> str:
        malformed_lines.append(row.number if row.number is not None else -1)
        return "skip"

    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(
                column_names=header, skip_rows=1, use_threads=use_threads
            ),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, invalid_row_handler=skip_malformed
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as error:
        raise DataError(uri, f"not a readable CSV file: {error}") from error
    return table, malformed_lines


def _kept_row_numbers(kept: int, skipped: np.ndarray) -> np.ndarray:
    """File row numbers of the rows kept after skipping the (sorted) `skipped` rows."""
    all_rows = np.arange(1, kept + skipped.size + 1)
    return all_rows[~np.isin(all_rows, skipped)]


def _read_parquet_text(uri: str, path: Path) -> TextPurchases:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise DataError(uri, f"not a readable Parquet file: {error}") from error
    problems: list[Problem] = []
    text_columns: list[pa.ChunkedArray] = []
    for name in table.column_names:
        column = table.column(name)
        text = _as_text(column) if _is_scalar_type(column.type) else None
        if text is None:
            # Reported once, by name and type; its cells read as empty (and are not judged).
            problems.append(file_problem(name, f"{RULE_SCALAR_COLUMN}, not {column.type}"))
            text = pa.chunked_array([pa.array([""] * table.num_rows, pa.string())])
        text_columns.append(text)
    frame = pa.table(text_columns, names=table.column_names).to_pandas()
    row_numbers = np.arange(1, table.num_rows + 1)
    return TextPurchases(frame=frame, row_numbers=row_numbers, problems=problems)


def _is_scalar_type(data_type: pa.DataType) -> bool:
    """Text, numbers, dates and times; not lists, structs, maps, unions or binary blobs."""
    if pa.types.is_dictionary(data_type):
        return _is_scalar_type(data_type.value_type)
    return bool(
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_integer(data_type)
        or pa.types.is_floating(data_type)
        or pa.types.is_decimal(data_type)
        or pa.types.is_temporal(data_type)
        or pa.types.is_null(data_type)
    )


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """A typed Parquet column as the text a CSV would hold (dates as YYYY-MM-DD); None when
    its values have no text form."""
    try:
        if pa.types.is_timestamp(column.type):
            return pc.strftime(column, format="%Y-%m-%d")
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        text = column.cast(pa.string())
    except pa.ArrowException:
        return None
    return pc.fill_null(text, "")
