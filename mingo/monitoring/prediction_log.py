"""The prediction log: every /predict answer, recorded durably and off the request path.

One `PredictionRecord` per customer answered: the model KIND and version that served it, the
as-of date its features were computed at, the customer's item of the answer and the
customer-level input features the model scored (for input drift). Two stores, chosen by URI
(`open_prediction_store`):

- `PostgresPredictionStore` (`postgresql://...`): table `mingo_predictions`, created on first
  use; what the cluster and the tests use.
- `FilePredictionStore` (a local path): append-only Parquet files
  `<root>/<kind>/as_of=<YYYY-MM-DD>/<file>.parquet`, each written under a temporary name and
  renamed, with a name unique to the writing process; so several service workers share one
  root, and a reader never sees half a file. The embedded stack's default
  (`<MINGO_HOME>/predictions`).

`read(kind, since, until)` filters on `as_of` (inclusive), the date that decides when a
prediction's outcome is known, and returns the columns of `READ_COLUMNS`: `as_of` as
datetime64 (midnight), `served_at` as UTC datetime64, `prediction` and `features` as dicts.

A service never writes a store itself: `PredictionLogWriter` takes answers into a bounded
in-memory queue (`submit`, which never blocks and never raises) and one background thread
writes them in batches. What cannot be written (queue full, store failing, still queued when
shutdown's wait ran out) is dropped and counted by reason; the request is never failed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from mingo import MODEL_KINDS, ModelKind
from mingo.config import redacted

logger = logging.getLogger(__name__)

READ_COLUMNS: tuple[str, ...] = (
    "kind",
    "model_version",
    "customer_id",
    "as_of",
    "served_at",
    "prediction",
    "features",
)
POSTGRES_TABLE = "mingo_predictions"
# A store that does not answer must not hold the writer thread (or a shutdown) for long.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5
POSTGRES_STATEMENT_TIMEOUT_MS = 30_000
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

# Writer defaults. The queue holds at most DEFAULT_QUEUE_RECORDS records (one per customer
# answered; ~2-5 KB each with its features, so a full queue is a few tens of MB); a batch is
# written when DEFAULT_BATCH_RECORDS are waiting or DEFAULT_FLUSH_SECONDS after the last write.
DEFAULT_QUEUE_RECORDS = 20_000
DEFAULT_BATCH_RECORDS = 1_000
DEFAULT_FLUSH_SECONDS = 2.0
DEFAULT_CLOSE_SECONDS = 10.0
# A failed batch is tried once more after this pause, then dropped (counted as store_error).
RETRY_PAUSE_SECONDS = 1.0
# At most one warning per this many seconds about failing writes (the counters count them all).
WARNING_INTERVAL_SECONDS = 60.0

DROP_QUEUE_FULL = "queue_full"
DROP_STORE_ERROR = "store_error"
DROP_SHUTDOWN = "shutdown"
DROP_INVALID = "invalid"
DROP_REASONS = (DROP_QUEUE_FULL, DROP_STORE_ERROR, DROP_SHUTDOWN, DROP_INVALID)


class PredictionStoreError(RuntimeError):
    """The store could not be written or read; the message names it (password redacted)."""


class PredictionRecord(BaseModel):
    """One customer's answer, as served."""

    model_config = ConfigDict(frozen=True)

    kind: ModelKind
    model_version: str
    customer_id: str
    # The date the features were computed at: the request's as_of, or the latest purchase
    # date of the request when it omitted as_of (what the model used).
    as_of: date
    served_at: datetime
    # Exactly the customer's item of the /predict answer (customer_id included).
    prediction: dict[str, Any]
    # The customer-level input features the model scored; NaN where a feature is undefined.
    features: dict[str, float]


@dataclass(frozen=True)
class ServedPredictions:
    """One model call's answers, handed to the writer as they are (cheap on the request path);
    the writer thread turns them into records.

    `predictions` are the answer's items (dicts or pydantic models), `features` the model's
    customer-level inputs indexed by customer id.
    """

    kind: ModelKind
    model_version: str
    as_of: date
    served_at: datetime
    predictions: Sequence[Any]
    features: pd.DataFrame

    def __len__(self) -> int:
        return len(self.predictions)

    def records(self) -> list[PredictionRecord]:
        # Plain numpy and dicts: pandas' per-call overhead (~1 ms) would dominate the
        # single-customer answers the writer mostly sees.
        items = [_as_dict(item) for item in self.predictions]
        columns = [str(c) for c in self.features.columns.tolist()]
        values = self.features.to_numpy(dtype=np.float64)
        position = {str(c): i for i, c in enumerate(self.features.index.tolist())}
        records = []
        for item in items:
            customer = str(item["customer_id"])
            row = position.get(customer)
            if row is None:
                raise ValueError(f"no input features for customer {customer!r}")
            records.append(
                PredictionRecord.model_construct(
                    kind=self.kind,
                    model_version=self.model_version,
                    customer_id=customer,
                    as_of=self.as_of,
                    served_at=self.served_at,
                    prediction=item,
                    features=dict(zip(columns, values[row].tolist(), strict=True)),
                )
            )
        return records


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json")
    return dict(item)


# ---------------------------------------------------------------------------------------------
# Stores
# ---------------------------------------------------------------------------------------------


class PredictionStore(Protocol):
    def write(self, records: Sequence[PredictionRecord]) -> None: ...

    def read(
        self, kind: ModelKind, since: date | None = None, until: date | None = None
    ) -> pd.DataFrame: ...


def open_prediction_store(uri: str) -> PredictionStore:
    """`postgresql://...` -> PostgresPredictionStore; a local path (or file://) -> files."""
    if uri.startswith(POSTGRES_SCHEMES):
        return PostgresPredictionStore(uri)
    if uri.startswith("file://"):
        return FilePredictionStore(Path(uri.removeprefix("file://")))
    if "://" in uri:
        raise ValueError(
            f"prediction log URI {redacted(uri)!r}: expected postgresql://... or a local path"
        )
    return FilePredictionStore(Path(uri))


def _check_kind(kind: str) -> None:
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {list(MODEL_KINDS)}")


def _json_features(features: Mapping[str, float]) -> str:
    # JSON (and PostgreSQL's json) has no NaN: an undefined feature is stored as null.
    return json.dumps(
        {k: (None if math.isnan(v) else v) for k, v in features.items()},
        separators=(",", ":"),
    )


def _features_from(value: Any) -> dict[str, float]:
    loaded = json.loads(value) if isinstance(value, str) else value
    return {str(k): (math.nan if v is None else float(v)) for k, v in loaded.items()}


def _prediction_from(value: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(value) if isinstance(value, str) else dict(value)
    return loaded


def _frame(rows: dict[str, list[Any]]) -> pd.DataFrame:
    frame = pd.DataFrame({c: rows.get(c, []) for c in READ_COLUMNS})
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[ns]")
    frame["served_at"] = pd.to_datetime(frame["served_at"], utc=True).astype("datetime64[ns, UTC]")
    for column in ("kind", "model_version", "customer_id"):
        frame[column] = frame[column].astype(object)
    return frame.sort_values(["served_at", "customer_id"], kind="stable").reset_index(drop=True)


class FilePredictionStore:
    """Append-only Parquet files under `<root>/<kind>/as_of=<date>/`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"FilePredictionStore({str(self.root)!r})"

    def write(self, records: Sequence[PredictionRecord]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        groups: dict[tuple[str, date], list[PredictionRecord]] = {}
        for record in records:
            groups.setdefault((record.kind, record.as_of), []).append(record)
        stamp = time.time_ns()
        for (kind, as_of), group in groups.items():
            directory = self.root / kind / f"as_of={as_of.isoformat()}"
            table = pa.table(
                {
                    "kind": pa.array([r.kind for r in group], pa.string()),
                    "model_version": pa.array([r.model_version for r in group], pa.string()),
                    "customer_id": pa.array([r.customer_id for r in group], pa.string()),
                    "as_of": pa.array([r.as_of for r in group], pa.date32()),
                    "served_at": pa.array(
                        [_utc(r.served_at) for r in group], pa.timestamp("us", tz="UTC")
                    ),
                    "prediction": pa.array(
                        [json.dumps(r.prediction, separators=(",", ":")) for r in group],
                        pa.string(),
                    ),
                    "features": pa.array([_json_features(r.features) for r in group], pa.string()),
                }
            )
            name = f"{stamp}-{os.getpid()}-{uuid.uuid4().hex[:12]}.parquet"
            try:
                directory.mkdir(parents=True, exist_ok=True)
                # Written aside, then renamed: readers list only complete files.
                partial = directory / f".{name}.partial"
                pq.write_table(table, partial)
                os.replace(partial, directory / name)
            except OSError as error:
                raise PredictionStoreError(f"cannot write {directory}: {error}") from error

    def read(
        self, kind: ModelKind, since: date | None = None, until: date | None = None
    ) -> pd.DataFrame:
        import pyarrow.parquet as pq

        _check_kind(kind)
        files: list[Path] = []
        kind_dir = self.root / kind
        if kind_dir.is_dir():
            for partition in sorted(kind_dir.glob("as_of=*")):
                try:
                    day = date.fromisoformat(partition.name.removeprefix("as_of="))
                except ValueError:
                    continue
                if (since is not None and day < since) or (until is not None and day > until):
                    continue
                files.extend(sorted(partition.glob("[!.]*.parquet")))
        rows: dict[str, list[Any]] = {c: [] for c in READ_COLUMNS}
        for path in files:
            try:
                table = pq.read_table(path)
            except OSError as error:
                raise PredictionStoreError(f"cannot read {path}: {error}") from error
            data = table.to_pydict()
            for column in ("kind", "model_version", "customer_id", "as_of", "served_at"):
                rows[column].extend(data[column])
            rows["prediction"].extend(_prediction_from(p) for p in data["prediction"])
            rows["features"].extend(_features_from(f) for f in data["features"])
        return _frame(rows)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class PostgresPredictionStore:
    """Table `mingo_predictions` (created if missing) in the database of `dsn`.

    One connection, opened on first use and again after a failure; a write is one
    transaction, so a batch is either all stored or not at all.
    """

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._connection: Any = None
        self._table_ready = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PostgresPredictionStore({redacted(self.dsn)!r})"

    def _connect(self) -> Any:
        import psycopg2

        if self._connection is None or self._connection.closed:
            self._connection = psycopg2.connect(
                self.dsn,
                connect_timeout=POSTGRES_CONNECT_TIMEOUT_SECONDS,
                options=f"-c statement_timeout={POSTGRES_STATEMENT_TIMEOUT_MS}",
                application_name="mingo-prediction-log",
            )
        if not self._table_ready:
            with self._connection, self._connection.cursor() as cursor:
                # Several workers may start at once: serialise the CREATE (IF NOT EXISTS alone
                # races on the catalog).
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (POSTGRES_TABLE,))
                # json, not jsonb: a record reads back with its keys in the order written.
                cursor.execute(
                    f"""
                    CREATE TABLE IF NOT EXISTS {POSTGRES_TABLE} (
                        id BIGSERIAL PRIMARY KEY,
                        kind TEXT NOT NULL,
                        model_version TEXT NOT NULL,
                        customer_id TEXT NOT NULL,
                        as_of DATE NOT NULL,
                        served_at TIMESTAMPTZ NOT NULL,
                        prediction JSON NOT NULL,
                        features JSON NOT NULL
                    )
                    """
                )
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS {POSTGRES_TABLE}_kind_as_of "
                    f"ON {POSTGRES_TABLE} (kind, as_of)"
                )
            self._table_ready = True
        return self._connection

    def _fail(self, action: str, error: Exception) -> PredictionStoreError:
        if self._connection is not None:
            # Already failing: the original error is the one reported.
            with contextlib.suppress(Exception):
                self._connection.close()
        self._connection = None
        self._table_ready = False
        return PredictionStoreError(f"cannot {action} {redacted(self.dsn)}: {error}".strip())

    def write(self, records: Sequence[PredictionRecord]) -> None:
        import psycopg2
        from psycopg2.extras import execute_values

        if not records:
            return
        rows = [
            (
                r.kind,
                r.model_version,
                r.customer_id,
                r.as_of,
                _utc(r.served_at),
                json.dumps(r.prediction, separators=(",", ":")),
                _json_features(r.features),
            )
            for r in records
        ]
        with self._lock:
            try:
                connection = self._connect()
                with connection, connection.cursor() as cursor:
                    execute_values(
                        cursor,
                        f"INSERT INTO {POSTGRES_TABLE} (kind, model_version, customer_id, as_of, "
                        "served_at, prediction, features) VALUES %s",
                        rows,
                        template="(%s, %s, %s, %s, %s, %s::json, %s::json)",
                        page_size=1000,
                    )
            except psycopg2.Error as error:
                raise self._fail("write to", error) from error

    def read(
        self, kind: ModelKind, since: date | None = None, until: date | None = None
    ) -> pd.DataFrame:
        import psycopg2

        _check_kind(kind)
        query = (
            f"SELECT kind, model_version, customer_id, as_of, served_at, prediction, features "
            f"FROM {POSTGRES_TABLE} WHERE kind = %s"
        )
        parameters: list[Any] = [kind]
        if since is not None:
            query += " AND as_of >= %s"
            parameters.append(since)
        if until is not None:
            query += " AND as_of <= %s"
            parameters.append(until)
        query += " ORDER BY served_at, customer_id, id"
        with self._lock:
            try:
                connection = self._connect()
                with connection, connection.cursor() as cursor:
                    cursor.execute(query, parameters)
                    fetched = cursor.fetchall()
            except psycopg2.Error as error:
                raise self._fail("read from", error) from error
        rows: dict[str, list[Any]] = {c: [] for c in READ_COLUMNS}
        for row in fetched:
            for column, value in zip(READ_COLUMNS[:5], row[:5], strict=True):
                rows[column].append(value)
            rows["prediction"].append(_prediction_from(row[5]))
            rows["features"].append(_features_from(row[6]))
        return _frame(rows)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


# ---------------------------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------------------------

Entry = ServedPredictions | Sequence[PredictionRecord]
WrittenHook = Callable[[int], None]
DroppedHook = Callable[[str, int], None]


@dataclass
class _Counts:
    written: int = 0
    dropped: Counter[str] = field(default_factory=Counter)


class PredictionLogWriter:
    """A bounded queue of answers and one background thread that writes them in batches.

    `submit` takes the lock for an append and returns: it never blocks on the store, never
    raises, and drops (counting reason `queue_full`) what does not fit. The thread writes a
    batch when `batch_records` are waiting or `flush_seconds` after its last write; a batch the
    store refuses twice is dropped (`store_error`). `close(timeout)` writes what is queued,
    waiting at most `timeout` seconds; what is left then is dropped (`shutdown`).
    `on_written(n)` / `on_dropped(reason, n)` are called as it happens (e.g. to export
    counters); an exception in them is logged and ignored.
    """

    def __init__(
        self,
        store: PredictionStore,
        *,
        queue_records: int = DEFAULT_QUEUE_RECORDS,
        batch_records: int = DEFAULT_BATCH_RECORDS,
        flush_seconds: float = DEFAULT_FLUSH_SECONDS,
        retry_pause_seconds: float = RETRY_PAUSE_SECONDS,
        on_written: WrittenHook | None = None,
        on_dropped: DroppedHook | None = None,
        name: str = "prediction-log",
    ) -> None:
        if queue_records < 1 or batch_records < 1 or flush_seconds <= 0:
            raise ValueError(
                "queue_records and batch_records must be >= 1 and flush_seconds > 0, got "
                f"{queue_records}, {batch_records}, {flush_seconds}"
            )
        self.store = store
        self.queue_records = queue_records
        self.batch_records = batch_records
        self.flush_seconds = flush_seconds
        self.retry_pause_seconds = retry_pause_seconds
        self._on_written = on_written
        self._on_dropped = on_dropped
        self._lock = threading.Lock()
        self._entries: deque[Entry] = deque()
        self._queued = 0
        self._in_flight = 0  # taken by the thread, not yet written or dropped
        self._counts = _Counts()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._closed = False
        self._last_warning = -math.inf
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- request path ---------------------------------------------------------------------

    def submit(self, entry: Entry) -> bool:
        """Queue `entry` for writing; False when it was dropped. Never blocks, never raises."""
        try:
            size = len(entry)
            if size == 0:
                return True
            with self._lock:
                accepted = not self._closed and self._queued + size <= self.queue_records
                if accepted:
                    self._entries.append(entry)
                    self._queued += size
                    full_batch = self._queued >= self.batch_records
                else:
                    self._counts.dropped[DROP_QUEUE_FULL] += size
            if not accepted:
                self._notify_dropped(DROP_QUEUE_FULL, size)
                return False
            if full_batch:
                self._wake.set()
            return True
        except Exception:  # the log must never fail a request
            logger.exception("prediction log: submit failed")
            return False

    # -- counters ---------------------------------------------------------------------------

    @property
    def written(self) -> int:
        with self._lock:
            return self._counts.written

    @property
    def dropped(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts.dropped)

    @property
    def queued(self) -> int:
        with self._lock:
            return self._queued

    # -- background thread --------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(timeout=self.flush_seconds)
            self._wake.clear()
            closing = self._closing.is_set()
            # Everything queued now is written, in batches of at most batch_records.
            while entries := self._take(self.batch_records):
                try:
                    self._write(entries, retry=not closing)
                finally:
                    with self._lock:
                        self._in_flight -= sum(len(e) for e in entries)
            if closing and self.queued == 0:
                return

    def _take(self, limit: int) -> list[Entry]:
        taken: list[Entry] = []
        count = 0
        with self._lock:
            while self._entries and count < limit:
                entry = self._entries.popleft()
                taken.append(entry)
                count += len(entry)
            self._queued -= count
            self._in_flight += count
        return taken

    def _write(self, entries: list[Entry], retry: bool) -> None:
        records: list[PredictionRecord] = []
        for entry in entries:
            try:
                records.extend(
                    entry.records() if isinstance(entry, ServedPredictions) else list(entry)
                )
            except Exception as error:  # one bad entry must not stop the log
                self._count_dropped(DROP_INVALID, len(entry))
                self._warn(f"could not record {len(entry)} answer(s): {error}")
        if not records:
            return
        for attempt in (1, 2):
            try:
                self.store.write(records)
            except Exception as error:  # any store failure is counted, not raised
                if attempt == 1 and retry and not self._closing.wait(self.retry_pause_seconds):
                    continue
                self._count_dropped(DROP_STORE_ERROR, len(records))
                self._warn(f"dropped {len(records)} record(s), {self.store!r} failed: {error}")
                return
            else:
                with self._lock:
                    self._counts.written += len(records)
                self._call(self._on_written, len(records))
                return

    def _count_dropped(self, reason: str, count: int) -> None:
        with self._lock:
            self._counts.dropped[reason] += count
        self._notify_dropped(reason, count)

    def _notify_dropped(self, reason: str, count: int) -> None:
        self._call(self._on_dropped, reason, count)

    def _call(self, hook: Callable[..., None] | None, *args: Any) -> None:
        if hook is None:
            return
        try:
            hook(*args)
        except Exception:  # a metrics hook must not stop the log
            logger.exception("prediction log: hook failed")

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= WARNING_INTERVAL_SECONDS:
            self._last_warning = now
            logger.warning(
                "prediction log: %s (further failures counted, logged once a minute)", message
            )

    # -- shutdown ---------------------------------------------------------------------------------

    def flush(self, timeout: float = DEFAULT_CLOSE_SECONDS) -> bool:
        """Wait until everything submitted so far is written or dropped; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                settled = self._queued == 0 and self._in_flight == 0
            if settled:
                return True
            if time.monotonic() >= deadline:
                return False
            self._wake.set()
            time.sleep(0.005)

    def close(self, timeout: float = DEFAULT_CLOSE_SECONDS) -> bool:
        """Stop taking answers, write what is queued within `timeout` seconds; True when all
        of it was written or dropped for a reason, False when the wait ran out."""
        with self._lock:
            self._closed = True
        self._closing.set()
        self._wake.set()
        self._thread.join(timeout)
        if not self._thread.is_alive():
            return True
        left = self._take(self.queue_records + 1)
        count = sum(len(e) for e in left)
        if count:
            self._count_dropped(DROP_SHUTDOWN, count)
            logger.warning("prediction log: %d record(s) not written at shutdown", count)
        return False
