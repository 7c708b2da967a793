from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from mingo.data import schema
from mingo.models import ModelConfig, baseline_metrics, build_datasets, fit, predict, score
from tests.models.conftest import Trained

BINARY_METRICS = {"accuracy", "balanced_accuracy", "roc_auc", "pr_auc", "f1"}


def test_split_is_out_of_time(binary_model: Trained, purchases: pd.DataFrame) -> None:
    train, holdout = binary_model.train, binary_model.holdout
    last = purchases[schema.DATE].max().date()
    assert holdout.cutoff == last - timedelta(days=30)
    assert train.cutoff == holdout.cutoff - timedelta(days=30)
    assert train.labels is not None and holdout.labels is not None
    # Labels are real: the holdout's positives bought in (T, T + 30].
    window = purchases[
        (purchases[schema.DATE] > pd.Timestamp(holdout.cutoff))
        & (purchases[schema.DATE] <= pd.Timestamp(holdout.cutoff + timedelta(days=30)))
    ]
    positives = set(holdout.labels.index[holdout.labels == 1])
    assert positives == set(window[schema.CUSTOMER_ID]) & set(holdout.features.index)
    assert holdout.features["recency_days"].max() <= 365


def test_beats_the_recency_baseline(binary_model: Trained) -> None:
    model_metrics = score(binary_model.model, binary_model.holdout)
    baseline = baseline_metrics(binary_model.train, binary_model.holdout, binary_model.config)
    assert set(model_metrics) == set(baseline) == BINARY_METRICS
    assert model_metrics["roc_auc"] >= baseline["roc_auc"] + 0.02
    assert model_metrics["pr_auc"] >= baseline["pr_auc"] + 0.05
    # The gate metric, at the served threshold: a constant "nobody buys" scores 0 on it.
    assert model_metrics["f1"] >= baseline["f1"] + 0.03
    # Far from a constant answer's 0.5.
    assert model_metrics["balanced_accuracy"] > 0.65


def test_shuffled_labels_drop_to_chance(binary_model: Trained) -> None:
    train = binary_model.train
    assert train.labels is not None
    rng = np.random.default_rng(3)
    shuffled = pd.Series(rng.permutation(train.labels.to_numpy()), index=train.labels.index)
    model = fit(replace(train, labels=shuffled), binary_model.config)
    assert abs(score(model, binary_model.holdout)["roc_auc"] - 0.5) < 0.08


def test_seven_day_horizon(purchases: pd.DataFrame) -> None:
    config = ModelConfig(kind="binary", horizon_days=7, training_snapshots=3)
    train, holdout = build_datasets(purchases, config)
    model = fit(train, config)
    assert holdout.cutoff - train.cutoff == timedelta(days=7)
    assert model.metadata["horizon_days"] == 7
    assert score(model, holdout)["roc_auc"] > 0.7


def test_predict_serves_raw_histories(binary_model: Trained, purchases: pd.DataFrame) -> None:
    model, holdout = binary_model.model, binary_model.holdout
    customers = list(holdout.features.index[:5])
    histories = purchases[purchases[schema.CUSTOMER_ID].isin(customers)]
    predictions = predict(model, histories, holdout.cutoff)

    assert [p["customer_id"] for p in predictions] == list(pd.unique(histories[schema.CUSTOMER_ID]))
    expected = model.estimator.predict_proba(
        holdout.features.loc[[p["customer_id"] for p in predictions]]
    )[:, 1]
    assert [p["probability"] for p in predictions] == pytest.approx(list(expected))
    assert all(
        p["will_buy"] == (p["probability"] >= model.metadata["threshold"]) for p in predictions
    )


def test_predict_without_history_names_the_customer(
    binary_model: Trained, purchases: pd.DataFrame
) -> None:
    first = purchases.iloc[[0]]
    customer = first[schema.CUSTOMER_ID].iloc[0]
    early = first[schema.DATE].iloc[0].date() - timedelta(days=1)
    with pytest.raises(ValueError, match=customer):
        predict(binary_model.model, first, early)


def test_cutoff_too_late_is_explained(purchases: pd.DataFrame) -> None:
    last = purchases[schema.DATE].max().date()
    with pytest.raises(ValueError, match="label window would be incomplete"):
        build_datasets(purchases, ModelConfig(kind="binary", cutoff=last - timedelta(days=10)))


def test_as_of_defaults_to_the_latest_purchase_in_the_request(
    binary_model: Trained, purchases: pd.DataFrame
) -> None:
    customers = list(binary_model.holdout.features.index[:3])
    histories = purchases[
        purchases[schema.CUSTOMER_ID].isin(customers)
        & (purchases[schema.DATE] <= pd.Timestamp(binary_model.holdout.cutoff))
    ]
    latest = histories[schema.DATE].max().date()
    assert predict(binary_model.model, histories, None) == predict(
        binary_model.model, histories, latest
    )
