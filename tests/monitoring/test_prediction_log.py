"""The prediction log: both stores round-trip records, the writer batches off the caller's
thread, and a full queue or a failing store drops (counted) instead of blocking or raising.

PostgreSQL is the session's real server (tests/fixtures/services.py); the "store down" case is
a real connection to a loopback port nothing listens on.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mingo.monitoring.prediction_log import (
    DROP_QUEUE_FULL,
    DROP_SHUTDOWN,
    DROP_STORE_ERROR,
    READ_COLUMNS,
    FilePredictionStore,
    PostgresPredictionStore,
    PredictionLogWriter,
    PredictionRecord,
    PredictionStore,
    PredictionStoreError,
    ServedPredictions,
    open_prediction_store,
)
from tests.fixtures.services import PostgresServer, free_loopback_port

SERVED_AT = datetime(2024, 4, 2, 12, 30, 15, 123456, tzinfo=UTC)


def record(
    customer: str,
    as_of: date = date(2024, 4, 1),
    kind: Any = "binary",
    version: str = "3",
) -> PredictionRecord:
    return PredictionRecord(
        kind=kind,
        model_version=version,
        customer_id=customer,
        as_of=as_of,
        served_at=SERVED_AT,
        prediction={"customer_id": customer, "probability": 0.25, "will_buy": False},
        features={"recency_days": 12.0, "gap_mean_days": math.nan, "frequency": 3.0},
    )


def served(customers: Sequence[str], as_of: date = date(2024, 4, 1)) -> ServedPredictions:
    features = pd.DataFrame(
        {"recency_days": [float(i) for i in range(len(customers))], "frequency": 1.0},
        index=pd.Index(list(customers)[::-1]),  # any order: looked up by customer id
    )
    features["recency_days"] = features["recency_days"].to_numpy()[::-1]
    return ServedPredictions(
        kind="binary",
        model_version="7",
        as_of=as_of,
        served_at=SERVED_AT,
        predictions=[{"customer_id": c, "probability": 0.5, "will_buy": True} for c in customers],
        features=features,
    )


def rows_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in frame.to_dict("records")
    ]
    for row in rows:
        row["features"] = {k: ("nan" if math.isnan(v) else v) for k, v in row["features"].items()}
    return sorted(rows, key=lambda r: r["customer_id"])


def expected_rows(records: Sequence[PredictionRecord]) -> list[dict[str, Any]]:
    return rows_of(
        pd.DataFrame(
            {
                "kind": [r.kind for r in records],
                "model_version": [r.model_version for r in records],
                "customer_id": [r.customer_id for r in records],
                "as_of": pd.to_datetime([r.as_of for r in records]),
                "served_at": pd.to_datetime([r.served_at for r in records], utc=True),
                "prediction": [r.prediction for r in records],
                "features": [r.features for r in records],
            }
        )
    )


def check_round_trip(store: PredictionStore) -> None:
    april = [record(f"c{i}") for i in range(3)]
    may = [record("c9", as_of=date(2024, 5, 1), version="4")]
    other_kind = [
        PredictionRecord(
            kind="clustering",
            model_version="1",
            customer_id="c1",
            as_of=date(2024, 4, 1),
            served_at=SERVED_AT,
            prediction={"customer_id": "c1", "segment": 2, "segment_name": "loyal"},
            features={"recency_days": 1.0},
        )
    ]
    store.write(april + may)
    store.write(other_kind)

    everything = store.read("binary")
    assert list(everything.columns) == list(READ_COLUMNS)
    assert rows_of(everything) == expected_rows(april + may)
    # Keys read back in the order written (the feature columns' order).
    assert [list(f) for f in everything["features"]] == [list(april[0].features)] * 4
    assert list(everything["prediction"].iloc[0]) == list(april[0].prediction)
    assert str(everything["as_of"].dtype) == "datetime64[ns]"
    assert str(everything["served_at"].dtype) == "datetime64[ns, UTC]"
    assert everything.loc[0, "served_at"] == pd.Timestamp(SERVED_AT)

    assert rows_of(store.read("binary", since=date(2024, 4, 2))) == expected_rows(may)
    assert rows_of(store.read("binary", until=date(2024, 4, 1))) == expected_rows(april)
    assert rows_of(store.read("binary", date(2024, 4, 1), date(2024, 4, 1))) == expected_rows(april)
    assert rows_of(store.read("clustering")) == expected_rows(other_kind)
    empty = store.read("multiclass")
    assert empty.empty and list(empty.columns) == list(READ_COLUMNS)
    with pytest.raises(ValueError, match="unknown model kind 'regression'"):
        store.read("regression")  # type: ignore[arg-type]


def test_file_store_round_trips_records(tmp_path: Path) -> None:
    store = open_prediction_store(str(tmp_path / "predictions"))
    assert isinstance(store, FilePredictionStore)
    check_round_trip(store)
    files = sorted((tmp_path / "predictions" / "binary").rglob("*"))
    assert {p.name for p in files if p.is_dir()} == {"as_of=2024-04-01", "as_of=2024-05-01"}
    assert not [p for p in files if p.name.startswith(".")]  # no partial file left behind


def test_postgres_store_round_trips_records(postgres_server: PostgresServer) -> None:
    store = open_prediction_store(postgres_server.create_database("prediction_log"))
    assert isinstance(store, PostgresPredictionStore)
    check_round_trip(store)


def test_postgres_stores_of_several_workers_create_the_table_once(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database("prediction_log_workers")
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            PostgresPredictionStore(url).write([record(f"w{i}")])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(PostgresPredictionStore(url).read("binary")["customer_id"]) == [
        "w0",
        "w1",
        "w2",
        "w3",
    ]


def test_file_store_is_shared_by_several_writers(tmp_path: Path) -> None:
    stores = [FilePredictionStore(tmp_path) for _ in range(4)]
    threads = [
        threading.Thread(target=s.write, args=([record(f"w{i}-{j}") for j in range(50)],))
        for i, s in enumerate(stores)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(FilePredictionStore(tmp_path).read("binary")) == 200


def test_stores_name_the_unsupported_uri() -> None:
    with pytest.raises(ValueError, match="expected postgresql://"):
        open_prediction_store("s3://bucket/predictions")


def test_postgres_store_down_raises_a_store_error_naming_it_without_the_password() -> None:
    store = PostgresPredictionStore(f"postgresql://u:secret@127.0.0.1:{free_loopback_port()}/db")
    with pytest.raises(PredictionStoreError) as caught:
        store.write([record("c1")])
    assert "u:***@127.0.0.1" in str(caught.value)
    assert "secret" not in str(caught.value)


class RecordingStore:
    """A real file store that also records the size of every write; `gate` holds writes."""

    def __init__(self, root: Path, fail: bool = False) -> None:
        self.inner = FilePredictionStore(root)
        self.batches: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail = fail

    def write(self, records: Sequence[PredictionRecord]) -> None:
        self.gate.wait()
        if self.fail:
            raise PredictionStoreError("store is down")
        self.inner.write(records)
        self.batches.append(len(records))

    def read(self, kind: Any, since: date | None = None, until: date | None = None) -> pd.DataFrame:
        return self.inner.read(kind, since, until)


def wait_for(condition: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_writer_turns_answers_into_records_with_their_features(tmp_path: Path) -> None:
    store = FilePredictionStore(tmp_path)
    writer = PredictionLogWriter(store, flush_seconds=0.05)
    try:
        assert writer.submit(served(["a", "b", "c"]))
        assert writer.flush(10)
    finally:
        writer.close()
    frame = store.read("binary").set_index("customer_id")
    assert writer.written == 3 and writer.dropped == {}
    assert frame.loc["a", "features"] == {"recency_days": 0.0, "frequency": 1.0}
    assert frame.loc["c", "features"] == {"recency_days": 2.0, "frequency": 1.0}
    assert frame.loc["b", "prediction"] == {
        "customer_id": "b",
        "probability": 0.5,
        "will_buy": True,
    }
    assert set(frame["model_version"]) == {"7"}


def test_writer_batches_and_writes_a_full_batch_before_the_tick(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    # The tick is a minute away: only a full batch (or close) starts a write.
    writer = PredictionLogWriter(store, batch_records=10, flush_seconds=60)
    try:
        for i in range(25):
            writer.submit([record(f"c{i}")])
        wait_for(lambda: writer.written >= 10)
        assert writer.close(10)
    finally:
        writer.close(1)
    assert sum(store.batches) == 25
    assert max(store.batches) <= 10
    assert len(store.batches) <= 5  # batched, not one write per answer
    assert len(store.read("binary")) == 25


def test_writer_writes_at_the_tick_in_one_batch(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    writer = PredictionLogWriter(store, batch_records=1000, flush_seconds=0.3)
    try:
        for i in range(40):
            writer.submit([record(f"c{i}")])
        wait_for(lambda: writer.written == 40)
    finally:
        writer.close(1)
    assert store.batches == [40]


def test_full_queue_drops_and_counts_without_blocking(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    store.gate.clear()  # the store hangs: nothing leaves the queue
    dropped: list[tuple[str, int]] = []
    writer = PredictionLogWriter(
        store,
        queue_records=20,
        batch_records=5,
        flush_seconds=0.05,
        on_dropped=lambda reason, n: dropped.append((reason, n)),
    )
    try:
        writer.submit(served([f"a{i}" for i in range(5)]))
        wait_for(lambda: writer.queued == 0)  # taken by the thread, stuck in write
        accepted = [writer.submit(served([f"b{i}-{j}" for j in range(5)])) for i in range(4)]
        assert accepted == [True] * 4  # 20 records fill the queue
        timings = []
        for entry in [served([f"x{i}"]) for i in range(200)]:
            started = time.perf_counter()
            assert writer.submit(entry) is False
            timings.append(time.perf_counter() - started)
        assert max(timings) < 0.05, max(timings)  # never waits for the hung store
        assert writer.dropped == {DROP_QUEUE_FULL: 200}
        assert dropped == [(DROP_QUEUE_FULL, 1)] * 200
        store.gate.set()
        assert writer.flush(10)
    finally:
        store.gate.set()
        writer.close(5)
    assert writer.written == 25
    assert len(store.read("binary")) == 25


def test_failing_store_drops_and_counts_store_error(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path, fail=True)
    dropped: list[tuple[str, int]] = []
    writer = PredictionLogWriter(
        store,
        flush_seconds=0.05,
        retry_pause_seconds=0.01,
        on_dropped=lambda reason, n: dropped.append((reason, n)),
    )
    entry = served(["a", "b"])
    try:
        started = time.perf_counter()
        assert writer.submit(entry)
        assert time.perf_counter() - started < 0.05
        assert writer.flush(10)
        assert writer.dropped == {DROP_STORE_ERROR: 2}
        assert dropped == [(DROP_STORE_ERROR, 2)]
        # The store comes back: later answers are written again.
        store.fail = False
        writer.submit(served(["c"]))
        assert writer.flush(10)
    finally:
        writer.close(5)
    assert writer.written == 1
    assert list(store.read("binary")["customer_id"]) == ["c"]


def test_unreachable_postgres_is_counted_as_store_error() -> None:
    store = PostgresPredictionStore(f"postgresql://u:p@127.0.0.1:{free_loopback_port()}/db")
    writer = PredictionLogWriter(store, flush_seconds=0.05, retry_pause_seconds=0.01)
    entries = [served([f"c{i}"]) for i in range(10)]
    try:
        started = time.perf_counter()
        assert all(writer.submit(entry) for entry in entries)
        assert time.perf_counter() - started < 0.05
        assert writer.flush(20)
    finally:
        writer.close(5)
    assert writer.written == 0
    assert writer.dropped == {DROP_STORE_ERROR: 10}


def test_close_flushes_what_is_queued(tmp_path: Path) -> None:
    store = FilePredictionStore(tmp_path)
    writer = PredictionLogWriter(store, flush_seconds=60)
    for i in range(30):
        writer.submit(served([f"c{i}"], as_of=date(2024, 4, 1) + timedelta(days=i % 3)))
    assert writer.close(10)
    assert writer.written == 30
    assert len(store.read("binary")) == 30
    assert writer.submit(served(["late"])) is False  # closed: counted, not raised
    assert writer.dropped == {DROP_QUEUE_FULL: 1}


def test_close_waits_at_most_its_timeout_and_counts_what_is_left(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    store.gate.clear()
    writer = PredictionLogWriter(store, batch_records=5, flush_seconds=0.05)
    try:
        writer.submit(served([f"a{i}" for i in range(5)]))
        wait_for(lambda: writer.queued == 0)
        writer.submit(served([f"b{i}" for i in range(7)]))
        started = time.perf_counter()
        assert writer.close(0.3) is False
        assert time.perf_counter() - started < 1.0
        assert writer.dropped == {DROP_SHUTDOWN: 7}
    finally:
        store.gate.set()


def test_submit_never_raises_on_a_bad_entry(tmp_path: Path) -> None:
    store = FilePredictionStore(tmp_path)
    writer = PredictionLogWriter(store, flush_seconds=0.05)
    bad = ServedPredictions(
        kind="binary",
        model_version="1",
        as_of=date(2024, 4, 1),
        served_at=SERVED_AT,
        predictions=[{"customer_id": "nobody"}],
        features=pd.DataFrame({"x": [1.0]}, index=["someone"]),
    )
    try:
        assert writer.submit(bad)
        assert writer.submit(object()) is False  # type: ignore[arg-type]
        writer.submit(served(["ok"]))
        assert writer.flush(10)
    finally:
        writer.close(5)
    assert writer.written == 1
    assert writer.dropped == {"invalid": 1}


# ---------------------------------------------------------------------------------------------
# What a predictor hands to the log, for the three kinds (trained on small generated data)
# ---------------------------------------------------------------------------------------------

SMALL_CONFIGS: dict[str, dict[str, Any]] = {
    "binary": {},
    "multiclass": {},
    "clustering": {"n_clusters": 3, "silhouette_sample": 100},
}


@pytest.fixture(scope="module")
def small_purchases() -> pd.DataFrame:
    from mingo.data.generate import generate_purchases

    return generate_purchases(300, seed=16)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "clustering"])
def test_a_predictor_logs_each_answer_with_its_features_and_as_of(
    kind: Any, small_purchases: pd.DataFrame, tmp_path: Path
) -> None:
    from mingo.features import FEATURE_COLUMNS, customer_features
    from mingo.models.api import ModelConfig, build_datasets, fit, predict, predict_scored
    from mingo.serving.champion import LoadedChampion
    from mingo.serving.payload import purchases_frame
    from mingo.serving.predictor import ChampionPredictor
    from mingo.serving.schemas import PredictRequest
    from tests.serving.conftest import customer_payloads

    config = ModelConfig(kind=kind, **SMALL_CONFIGS[kind])
    model = fit(build_datasets(small_purchases, config)[0], config)
    champion = LoadedChampion(kind, f"mingo-{kind}", "5", model)
    predictor = ChampionPredictor(kind, lambda: champion)
    assert predictor.try_load()
    store = FilePredictionStore(tmp_path)
    predictor.prediction_log = PredictionLogWriter(store, flush_seconds=0.05)
    customers = customer_payloads(small_purchases)[:4]
    dated = PredictRequest.model_validate({"customers": customers[:2], "as_of": "2024-04-01"})
    undated = PredictRequest.model_validate({"customers": customers[2:]})
    try:
        answers = [predictor.predict(dated), predictor.predict(undated)]
        assert predictor.prediction_log.flush(10)
    finally:
        predictor.prediction_log.close()

    rows = store.read(kind).set_index("customer_id")
    assert len(rows) == 4 and set(rows["model_version"]) == {"5"}
    for request, answer in zip((dated, undated), answers, strict=True):
        purchases = purchases_frame(request)
        used = request.as_of or purchases["date_purchase"].max().date()
        # predict_scored answers like predict, from the same pass that gave the features.
        scored = predict_scored(model, purchases, request.as_of)
        assert scored.predictions == predict(model, purchases, request.as_of)
        assert scored.as_of == used
        expected = customer_features(purchases, used)
        for item in answer.predictions:
            row = rows.loc[item.customer_id]
            assert row["as_of"] == pd.Timestamp(used)
            assert row["prediction"] == item.model_dump(mode="json")
            assert list(row["features"]) == list(FEATURE_COLUMNS)
            logged = pd.Series(row["features"])
            wanted = expected.loc[[item.customer_id]].iloc[0]
            pd.testing.assert_series_equal(logged, wanted, check_names=False, rtol=1e-12)
