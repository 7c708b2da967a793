from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from mingo.data import schema
from mingo.features import route_key
from mingo.models import baseline_metrics, fit, predict, score
from tests.models.conftest import Trained

MULTICLASS_METRICS = {"accuracy", "top_3_accuracy", "top_5_accuracy", "macro_f1"}


def test_labels_are_the_first_route_after_the_cutoff(
    multiclass_model: Trained, purchases: pd.DataFrame
) -> None:
    holdout = multiclass_model.holdout
    assert holdout.labels is not None
    customer = holdout.labels.index[0]
    after = purchases[
        (purchases[schema.CUSTOMER_ID] == customer)
        & (purchases[schema.DATE] > pd.Timestamp(holdout.cutoff))
    ].sort_values([schema.DATE, schema.TIME])
    first = after.iloc[0]
    assert holdout.labels[customer] == route_key(first[schema.ORIGIN], first[schema.DESTINATION])
    assert multiclass_model.train.cutoff < holdout.cutoff


def test_beats_the_most_frequent_route_baseline(multiclass_model: Trained) -> None:
    model_metrics = score(multiclass_model.model, multiclass_model.holdout)
    baseline = baseline_metrics(
        multiclass_model.train, multiclass_model.holdout, multiclass_model.config
    )
    assert set(model_metrics) == set(baseline) == MULTICLASS_METRICS
    assert model_metrics["accuracy"] >= baseline["accuracy"] + 0.02
    assert model_metrics["top_3_accuracy"] >= baseline["top_3_accuracy"] + 0.02
    assert model_metrics["top_5_accuracy"] >= baseline["top_5_accuracy"]


def test_shuffled_labels_fall_to_the_class_prior(multiclass_model: Trained) -> None:
    train, holdout = multiclass_model.train, multiclass_model.holdout
    assert train.labels is not None and holdout.labels is not None
    rng = np.random.default_rng(4)
    shuffled = pd.Series(rng.permutation(train.labels.to_numpy()), index=train.labels.index)
    model = fit(replace(train, labels=shuffled), multiclass_model.config)
    metrics = score(model, holdout)
    # Without signal the best it can do is the most common class ("other" mostly).
    majority = holdout.labels.value_counts(normalize=True).iloc[0]
    other_share = float(
        (~holdout.labels.isin([f"{o}->{d}" for o, d in holdout.route_vocabulary or []])).mean()
    )
    assert metrics["accuracy"] <= max(majority, other_share) + 0.02
    assert metrics["accuracy"] < score(multiclass_model.model, holdout)["accuracy"] - 0.05


def test_predict_gives_top_five_named_routes(
    multiclass_model: Trained, purchases: pd.DataFrame
) -> None:
    model = multiclass_model.model
    customers = list(multiclass_model.holdout.features.index[:4])
    histories = purchases[purchases[schema.CUSTOMER_ID].isin(customers)]
    predictions = predict(model, histories, multiclass_model.holdout.cutoff)
    known = {(r["origin"], r["destination"]) for r in model.metadata["route_classes"]}
    for prediction in predictions:
        routes = prediction["routes"]
        assert len(routes) == 5
        assert all((r["origin"], r["destination"]) in known for r in routes)
        probabilities = [r["probability"] for r in routes]
        assert probabilities == sorted(probabilities, reverse=True)
        assert 0.0 < sum(probabilities) <= 1.0


def test_champion_with_another_vocabulary_is_rescored_on_its_own_classes(
    multiclass_model: Trained, purchases: pd.DataFrame
) -> None:
    from mingo.models import ModelConfig, build_datasets

    config = ModelConfig(kind="multiclass", top_k_routes=10)
    train, _ = build_datasets(purchases, config)
    smaller = fit(train, config)
    # The holdout was encoded with 20 routes; the 10-route model re-encodes it from history.
    metrics = score(smaller, multiclass_model.holdout)
    assert set(metrics) == MULTICLASS_METRICS
    assert 0.5 < metrics["accuracy"] <= 1.0
