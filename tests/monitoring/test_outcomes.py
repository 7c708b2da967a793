"""The outcome join: only closed windows, labels equal to training's, live metrics as served."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from mingo.data import schema
from mingo.data.generate import generate_purchases
from mingo.models import ModelConfig, build_datasets
from mingo.models import multiclass as multiclass_model
from mingo.models.clustering import CLUSTER_COLUMNS
from mingo.models.datasets import date_range_of
from mingo.monitoring.outcomes import (
    LABEL,
    PredictionLogError,
    in_population,
    join_outcomes,
    live_metrics,
    live_metrics_table,
)

CUSTOMERS = 800
SEED = 5


@pytest.fixture(scope="module")
def purchases() -> pd.DataFrame:
    return generate_purchases(CUSTOMERS, SEED)


def record(
    customer: str,
    as_of: date,
    prediction: dict[str, Any],
    version: str = "1",
    features: dict[str, float] | None = None,
    kind: str = "binary",
    served_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "model_version": version,
        "customer_id": customer,
        "as_of": pd.Timestamp(as_of),
        "served_at": served_at or datetime(2030, 1, 1, tzinfo=UTC),
        "prediction": {"customer_id": customer, **prediction},
        "features": features or {},
    }


def customers_with_history(purchases: pd.DataFrame, as_of: date) -> list[str]:
    dates = purchases[schema.DATE].dt.date
    return sorted(str(c) for c in purchases.loc[dates <= as_of, schema.CUSTOMER_ID].unique())


def test_binary_labels_equal_the_training_labels_on_the_same_data(
    purchases: pd.DataFrame,
) -> None:
    _, holdout = build_datasets(purchases, ModelConfig(kind="binary"))
    assert holdout.labels is not None
    answer = {"probability": 0.5, "will_buy": True}
    log = pd.DataFrame([record(str(c), holdout.cutoff, answer) for c in holdout.features.index])
    joined = join_outcomes(log, purchases, "binary", 30)
    assert len(joined) == len(holdout.features)
    expected = holdout.labels.set_axis(holdout.labels.index.astype(str))
    labels = joined.set_index("customer_id")[LABEL].astype(int)
    pd.testing.assert_series_equal(
        labels.sort_index(), expected.sort_index().astype(int), check_names=False
    )
    assert 0 < labels.sum() < len(labels)  # both classes: the comparison means something


def test_multiclass_labels_equal_the_training_labels_on_the_same_data(
    purchases: pd.DataFrame,
) -> None:
    _, last = date_range_of(purchases)
    window = 180
    cutoff = last - timedelta(days=window)
    training = multiclass_model._labelled_set(purchases, cutoff, window, popular=[])
    assert training.labels is not None
    customers = customers_with_history(purchases, cutoff)
    answer = {"routes": [{"origin": "A", "destination": "B", "probability": 1.0}]}
    log = pd.DataFrame([record(c, cutoff, answer, kind="multiclass") for c in customers])
    joined = join_outcomes(log, purchases, "multiclass", window)
    # Customers who did not travel in the window have no label: left out, as in training.
    expected = training.labels.set_axis(training.labels.index.astype(str)).sort_index()
    got = joined.set_index("customer_id")[LABEL].sort_index()
    assert list(got.index) == list(expected.index)
    assert (got == expected).all()
    assert len(got) < len(customers)


def test_only_predictions_whose_window_has_closed_are_joined(purchases: pd.DataFrame) -> None:
    _, last = date_range_of(purchases)
    closed_day = last - timedelta(days=30)  # window (A, A + 30] ends on the last date
    open_day = last - timedelta(days=29)  # one day of its window is not in the data yet
    customers = customers_with_history(purchases, closed_day)[:50]
    answer = {"probability": 0.2, "will_buy": False}
    log = pd.DataFrame(
        [record(c, closed_day, answer) for c in customers]
        + [record(c, open_day, answer) for c in customers]
    )
    joined = join_outcomes(log, purchases, "binary", 30)
    assert set(joined["as_of"]) == {closed_day}
    assert len(joined) == 50
    # A version with a shorter window (its own label window) closes earlier.
    per_version = join_outcomes(log, purchases, "binary", {"1": 7})
    assert set(per_version["as_of"]) == {closed_day, open_day}


def test_one_customer_asked_twice_counts_once_with_the_latest_answer(
    purchases: pd.DataFrame,
) -> None:
    _, last = date_range_of(purchases)
    as_of = last - timedelta(days=40)
    customer = customers_with_history(purchases, as_of)[0]
    log = pd.DataFrame(
        [
            record(
                customer,
                as_of,
                {"probability": 0.1, "will_buy": False},
                served_at=datetime(2030, 1, 1, tzinfo=UTC),
            ),
            record(
                customer,
                as_of,
                {"probability": 0.9, "will_buy": True},
                served_at=datetime(2030, 1, 2, tzinfo=UTC),
            ),
        ]
    )
    joined = join_outcomes(log, purchases, "binary", 30)
    assert len(joined) == 1
    assert joined.iloc[0]["prediction"]["probability"] == 0.9


def test_binary_live_metrics_are_those_of_the_served_answer(purchases: pd.DataFrame) -> None:
    _, last = date_range_of(purchases)
    as_of = last - timedelta(days=60)
    customers = customers_with_history(purchases, as_of)
    rng = np.random.default_rng(0)
    probability = rng.uniform(size=len(customers))
    log = pd.DataFrame(
        [
            record(c, as_of, {"probability": float(p), "will_buy": bool(p >= 0.7)})
            for c, p in zip(customers, probability, strict=True)
        ]
    )
    joined = join_outcomes(log, purchases, "binary", 30)
    metrics = live_metrics("binary", joined)
    labels = joined[LABEL].to_numpy(int)
    served = np.array([p["will_buy"] for p in joined["prediction"]], dtype=int)
    assert metrics["f1"] == pytest.approx(f1_score(labels, served))
    assert metrics["accuracy"] == pytest.approx(float(np.mean(labels == served)))
    assert set(metrics) == {"accuracy", "balanced_accuracy", "roc_auc", "pr_auc", "f1"}


def test_multiclass_live_metrics_score_the_served_routes_in_order(
    purchases: pd.DataFrame,
) -> None:
    _, last = date_range_of(purchases)
    as_of = last - timedelta(days=200)
    log = pd.DataFrame(
        [
            record(c, as_of, {"routes": []}, kind="multiclass")
            for c in customers_with_history(purchases, as_of)
        ]
    )
    joined = join_outcomes(log, purchases, "multiclass", 180)
    truth = [str(label).split("->") for label in joined[LABEL]]
    wrong = {"origin": "nowhere", "destination": "else", "probability": 0.5}
    half = len(joined) // 2
    answers = []
    for i, (origin, destination) in enumerate(truth):
        right = {"origin": origin, "destination": destination, "probability": 0.4}
        # First half: the next route served first; second half: served second.
        answers.append({"routes": [right, wrong] if i < half else [wrong, right]})
    joined = joined.assign(prediction=pd.Series(answers, index=joined.index, dtype=object))
    metrics = live_metrics("multiclass", joined)
    assert metrics["accuracy"] == pytest.approx(half / len(joined))
    assert metrics["top_3_accuracy"] == pytest.approx(1.0)
    assert "coverage" not in metrics  # the answer does not say what could have been named


def test_clustering_live_metrics_use_the_logged_features(purchases: pd.DataFrame) -> None:
    rng = np.random.default_rng(4)
    as_of = date(2024, 1, 1)
    rows = []
    for i in range(300):
        segment = i % 2
        features = {c: float(rng.normal(loc=4.0 * segment, scale=0.3)) for c in CLUSTER_COLUMNS}
        rows.append(
            record(f"c{i}", as_of, {"segment": segment}, kind="clustering", features=features)
        )
    joined = join_outcomes(pd.DataFrame(rows), purchases, "clustering", 30)
    assert len(joined) == 300  # nothing to wait for
    metrics = live_metrics("clustering", joined)
    assert metrics["silhouette"] > 0.7  # two well separated served segments
    segments = [{"segment": int(s)} for s in rng.integers(0, 2, 300)]
    shuffled = joined.assign(prediction=pd.Series(segments, index=joined.index, dtype=object))
    assert live_metrics("clustering", shuffled)["silhouette"] < 0.1


def test_weekly_table_counts_outcomes_per_version_and_week(purchases: pd.DataFrame) -> None:
    _, last = date_range_of(purchases)
    monday = last - timedelta(days=last.weekday() + 35)
    customers = customers_with_history(purchases, monday)
    answer = {"probability": 0.5, "will_buy": True}
    log = pd.DataFrame(
        [record(c, monday, answer, version="1") for c in customers]
        + [record(c, monday + timedelta(days=2), answer, version="2") for c in customers[:40]]
        + [record(c, monday - timedelta(days=7), answer, version="1") for c in customers[:30]]
    )
    table = live_metrics_table("binary", join_outcomes(log, purchases, "binary", 30))
    counts = {(r.model_version, r.week): r.outcomes for r in table.itertuples()}
    assert counts == {
        ("1", monday): len(customers),
        ("2", monday): 40,
        ("1", monday - timedelta(days=7)): 30,
    }


def test_binary_population_is_the_holdouts() -> None:
    log = pd.DataFrame(
        [
            record("a", date(2024, 1, 1), {}, features={"recency_days": 10.0}),
            record("b", date(2024, 1, 1), {}, features={"recency_days": 400.0}),
            record("c", date(2024, 1, 1), {}, version="2", features={"recency_days": 400.0}),
        ]
    )
    kept = in_population(log, {"1": 365, "2": None})
    assert list(kept["customer_id"]) == ["a", "c"]


def test_an_unusable_log_names_the_column_or_the_row(purchases: pd.DataFrame) -> None:
    log = pd.DataFrame([record("a", date(2024, 1, 1), {"will_buy": True})])
    with pytest.raises(PredictionLogError, match="features"):
        join_outcomes(log.drop(columns="features"), purchases, "binary", 30)
    joined = join_outcomes(log.assign(as_of=pd.Timestamp("2023-01-01")), purchases, "binary", 30)
    with pytest.raises(PredictionLogError, match=r"row 0 has no 'probability'"):
        live_metrics("binary", joined)
