"""Batch scores: every customer of a purchases file, as of one date, by one model version.

The answer for a customer is what `POST /predict` would answer for that customer's purchases
with the same `as_of`: each chunk of customers goes through `mingo.models.api.predict`, the
function the prediction services call, so features and predictions come from the one code
path. A customer's features depend on their own history only (and, for multiclass, on the
model's popular-route list), so scoring customers in chunks changes nothing but the memory
needed; purchases dated after `as_of` are dropped first, as the features ignore them anyway.

Customers with no purchase on or before `as_of` are not scored (the service would refuse
them); they are counted in the summary.

Output: one Parquet row per scored customer, in order of first appearance in the data,
columns `customer_id, model, model_version, as_of` and the prediction fields of the /predict
answer flattened (`OUTPUT_COLUMNS`). Written chunk by chunk, so the table is never whole in
memory; the target gets the file only once it is complete (`writable_local_file`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from mingo import ModelKind
from mingo.data import schema
from mingo.data.errors import DataError
from mingo.data.storage import uri_suffix, writable_local_file
from mingo.models.api import predict
from mingo.models.multiclass import ROUTES_PER_PREDICTION
from mingo.serving.champion import (
    ChampionAlias,
    LoadedChampion,
    ModelCache,
    ModelLoader,
    PinnedVersion,
)

if TYPE_CHECKING:
    from mingo.config import S3Settings, Settings

# Customers per model call. Multiclass inputs are wide (60 candidate slots x 11 signals per
# customer), so its chunks are smaller; at these sizes a chunk's working set stays in the low
# hundreds of MiB (benchmarks/results/batch_scoring.md).
CHUNK_CUSTOMERS: Final[dict[str, int]] = {
    "binary": 100_000,
    "multiclass": 25_000,
    "clustering": 100_000,
}
PARQUET_SUFFIX: Final = ".parquet"
PARQUET_COMPRESSION: Final = "zstd"

# (customers scored so far, customers to score)
ProgressCallback = Callable[[int, int], None]


def route_columns(rank: int) -> tuple[str, str, str]:
    return (f"route_{rank}_origin", f"route_{rank}_destination", f"route_{rank}_probability")


IDENTITY_FIELDS: Final[list[tuple[str, pa.DataType]]] = [
    ("customer_id", pa.string()),
    ("model", pa.string()),
    ("model_version", pa.string()),
    ("as_of", pa.date32()),
]
PREDICTION_FIELDS: Final[dict[str, list[tuple[str, pa.DataType]]]] = {
    "binary": [("probability", pa.float64()), ("will_buy", pa.bool_())],
    "multiclass": [
        (name, kind)
        for rank in range(1, ROUTES_PER_PREDICTION + 1)
        for name, kind in zip(
            route_columns(rank), (pa.string(), pa.string(), pa.float64()), strict=True
        )
    ],
    "clustering": [("segment", pa.int64()), ("segment_name", pa.string())],
}


def output_schema(kind: ModelKind) -> pa.Schema:
    return pa.schema([*IDENTITY_FIELDS, *PREDICTION_FIELDS[kind]])


def output_columns(kind: ModelKind) -> list[str]:
    return output_schema(kind).names


class ScoreSummary(BaseModel):
    """The last stdout line of `mingo score`."""

    model_config = ConfigDict(frozen=True)

    model: str
    model_version: str
    as_of: date
    customers: int  # scored (rows written)
    unscored_customers: int  # no purchase on or before as_of: not scored, never guessed
    out: str
    seconds: float


def check_output_uri(out: str) -> None:
    if uri_suffix(out) != PARQUET_SUFFIX:
        raise DataError(out, f"batch scores are written as Parquet: name a {PARQUET_SUFFIX} file")


def load_model(kind: ModelKind, settings: Settings, version: str | None) -> LoadedChampion:
    """The pinned `version`, or the champion alias resolved to a version number, loaded once.

    Raises `mingo.serving.champion.ChampionUnavailable` (no such version, no champion, an
    unreachable registry).
    """
    source = PinnedVersion(version) if version is not None else ChampionAlias()
    cache = ModelCache(settings.model_cache_dir) if settings.model_cache_dir else None
    return ModelLoader(kind, settings.mlflow_tracking_uri, source, cache).load()


def default_as_of(purchases: pd.DataFrame) -> date:
    """The last purchase date in the data."""
    if purchases.empty:
        raise ValueError("the purchases frame is empty: there is no customer to score")
    last: pd.Timestamp = purchases[schema.DATE].max()
    return last.date()


def history_until(purchases: pd.DataFrame, as_of: date) -> tuple[pd.DataFrame, int]:
    """(purchases dated on or before `as_of`, customers with none of them)."""
    day = purchases[schema.DATE].to_numpy().astype("datetime64[D]")
    past = day <= np.datetime64(as_of, "D")
    customers = purchases[schema.CUSTOMER_ID]
    if past.all():
        return purchases, 0
    kept = purchases.loc[past]
    unscored = customers.nunique() - kept[schema.CUSTOMER_ID].nunique()
    return kept, int(unscored)


def customer_chunks(purchases: pd.DataFrame, chunk_customers: int) -> Iterator[pd.DataFrame]:
    """Purchases split by customer, `chunk_customers` customers per chunk, a customer's rows
    never split; chunks and the rows inside them keep the order of first appearance."""
    if purchases.empty:
        return
    codes, uniques = pd.factorize(purchases[schema.CUSTOMER_ID])
    chunk_of_row = codes // chunk_customers
    order = np.argsort(chunk_of_row, kind="stable")
    bounds = np.searchsorted(chunk_of_row[order], np.arange(-(-len(uniques) // chunk_customers)))
    for start, end in zip(bounds, [*bounds[1:], len(order)], strict=True):
        yield purchases.take(order[start:end])


def prediction_table(
    kind: ModelKind, model: str, version: str, as_of: date, predictions: list[dict[str, Any]]
) -> pa.Table:
    """Items of a /predict answer (`predictions`) as output rows (`output_schema`).

    The batch writes its chunks through this, and a test or benchmark can turn a service's
    answer into the same rows to compare them.
    """
    n = len(predictions)
    columns: dict[str, Any] = {
        "customer_id": [str(p["customer_id"]) for p in predictions],
        "model": [model] * n,
        "model_version": [version] * n,
        "as_of": [as_of] * n,
    }
    match kind:
        case "binary":
            columns["probability"] = [p["probability"] for p in predictions]
            columns["will_buy"] = [p["will_buy"] for p in predictions]
        case "clustering":
            columns["segment"] = [p["segment"] for p in predictions]
            columns["segment_name"] = [p["segment_name"] for p in predictions]
        case "multiclass":
            for rank in range(1, ROUTES_PER_PREDICTION + 1):
                origin, destination, probability = route_columns(rank)
                routes = [
                    p["routes"][rank - 1] if len(p["routes"]) >= rank else None for p in predictions
                ]
                columns[origin] = [r["origin"] if r else None for r in routes]
                columns[destination] = [r["destination"] if r else None for r in routes]
                columns[probability] = [r["probability"] if r else None for r in routes]
    return pa.table(columns, schema=output_schema(kind))


def score_chunks(
    champion: LoadedChampion,
    purchases: pd.DataFrame,
    as_of: date,
    chunk_customers: int,
    progress: ProgressCallback | None = None,
) -> Iterator[pa.Table]:
    """Output tables, one per chunk; `purchases` must hold history up to `as_of` only."""
    total = int(purchases[schema.CUSTOMER_ID].nunique())
    done = 0
    if progress is not None:
        progress(done, total)
    for chunk in customer_chunks(purchases, chunk_customers):
        predictions = predict(champion.model, chunk, as_of)
        table = prediction_table(champion.kind, champion.name, champion.version, as_of, predictions)
        done += table.num_rows
        if progress is not None:
            progress(done, total)
        yield table


def write_parquet(
    tables: Iterator[pa.Table], out: str, schema_: pa.Schema, s3: S3Settings | None
) -> int:
    """Stream `tables` into one Parquet file at `out` (local or s3://); rows written."""
    rows = 0
    with (
        writable_local_file(out, s3) as path,
        pq.ParquetWriter(path, schema_, compression=PARQUET_COMPRESSION) as writer,
    ):
        for table in tables:
            writer.write_table(table)
            rows += table.num_rows
    return rows


def score_purchases(
    champion: LoadedChampion,
    purchases: pd.DataFrame,
    out: str,
    as_of: date | None = None,
    s3: S3Settings | None = None,
    chunk_customers: int | None = None,
    progress: ProgressCallback | None = None,
    started: float | None = None,
) -> ScoreSummary:
    """Score every customer of a clean canonical purchases frame and write the Parquet.

    `started` (a `time.perf_counter()` value) is when the summary's `seconds` begin: by
    default now, the caller's start when it loaded the data and the model itself.
    """
    started = time.perf_counter() if started is None else started
    check_output_uri(out)
    cutoff = as_of if as_of is not None else default_as_of(purchases)
    history, unscored = history_until(purchases, cutoff)
    size = chunk_customers or CHUNK_CUSTOMERS[champion.kind]
    tables = score_chunks(champion, history, cutoff, size, progress)
    rows = write_parquet(tables, out, output_schema(champion.kind), s3)
    return ScoreSummary(
        model=champion.name,
        model_version=champion.version,
        as_of=cutoff,
        customers=rows,
        unscored_customers=unscored,
        out=out,
        seconds=round(time.perf_counter() - started, 3),
    )


def load_clean_purchases(data_uri: str, s3: S3Settings | None) -> pd.DataFrame:
    """The purchases at `data_uri`, validated and cleaned as `mingo train` does.

    Raises `DataError` (column, rows, rule) for unusable data, `DataUnavailableError` when
    the store cannot be reached.
    """
    from mingo.data import clean_purchases, load_purchases

    loaded = load_purchases(data_uri, s3)
    try:
        cleaned, _ = clean_purchases(loaded)
    except DataError as error:
        # The frame-level error names the frame, not the file: say which file.
        raise DataError(data_uri, error.cause) from None
    return cleaned


def score_uri(
    kind: ModelKind,
    data_uri: str,
    out: str,
    settings: Settings,
    as_of: date | None = None,
    version: str | None = None,
    progress: ProgressCallback | None = None,
    on_step: Callable[[str], None] | None = None,
) -> ScoreSummary:
    """`mingo score`: load the model once, then the data, score everyone, write `out`."""
    started = time.perf_counter()
    check_output_uri(out)
    champion = load_model(kind, settings, version)
    if on_step is not None:
        on_step(f"loaded {champion.name} version {champion.version}")
    purchases = load_clean_purchases(data_uri, settings.data_s3)
    if on_step is not None:
        customers = purchases[schema.CUSTOMER_ID].nunique()
        on_step(f"read {len(purchases):,} purchases of {customers:,} customers from {data_uri}")
    return score_purchases(
        champion,
        purchases,
        out,
        as_of=as_of,
        s3=settings.data_s3,
        progress=progress,
        started=started,
    )
