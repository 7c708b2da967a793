"""Purchases files for the data tests: a small clean frame and ways to corrupt its CSV."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mingo.data import schema
from mingo.data.generate import generate_purchases
from mingo.data.io import save_purchases

SMALL_CUSTOMERS = 150
SMALL_SEED = 21


def small_purchases() -> pd.DataFrame:
    return generate_purchases(SMALL_CUSTOMERS, SMALL_SEED)


def write_standard_csv(frame: pd.DataFrame, path: Path) -> Path:
    save_purchases(frame, str(path))
    return path


def write_day_first_semicolon_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The circulating variant: ';' separated, DD/MM/YYYY dates, decimal commas."""
    variant = frame.assign(
        **{
            schema.DATE: frame[schema.DATE].dt.strftime("%d/%m/%Y"),
            schema.GMV: frame[schema.GMV].map(lambda value: repr(value).replace(".", ",")),
        }
    )
    variant.to_csv(path, sep=";", index=False)
    return path


def edit_csv_rows(
    source: Path,
    target: Path,
    rows: Iterable[int],
    edit: Callable[[dict[str, str]], dict[str, str]],
) -> Path:
    """Copies a standard CSV, applying `edit` to the given 1-based data rows."""
    lines = source.read_text().splitlines()
    header = lines[0].split(",")
    for row in rows:
        record = dict(zip(header, lines[row].split(","), strict=True))
        lines[row] = ",".join(edit(record)[column] for column in header)
    target.write_text("\n".join(lines) + "\n")
    return target


def set_field(column: str, value: str) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda record: {**record, column: value}


def nested_column(frame: pd.DataFrame, column: str, kind: str) -> pa.Array:
    """`column` of `frame` as a Parquet type with no text form: list, struct or binary."""
    values = frame[column].tolist()
    if kind == "list":
        return pa.array([[value] for value in values])
    if kind == "struct":
        return pa.array([{"value": value} for value in values])
    if kind == "binary":
        return pa.array([str(value).encode() for value in values], pa.binary())
    raise ValueError(f"unknown kind {kind!r}")


def write_parquet_with_nested_column(
    frame: pd.DataFrame, path: Path, column: str, kind: str
) -> Path:
    """A Parquet file of `frame` whose `column` is stored as a list, struct or binary type."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    index = table.column_names.index(column)
    table = table.set_column(index, column, nested_column(frame, column, kind))
    pq.write_table(table, path)
    return path
