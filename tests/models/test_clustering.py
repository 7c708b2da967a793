from __future__ import annotations

import json

import numpy as np
import pandas as pd

from mingo.data import schema
from mingo.models import ModelConfig, baseline_metrics, build_datasets, fit, predict, score
from tests.models.conftest import Trained

KNOWN_NAMES = (
    "one-time buyers",
    "frequent commuters",
    "high-value groups",
    "seasonal travellers",
    "new customers",
    "lapsed customers",
    "explorers",
)


def test_beats_the_recency_quartile_baseline(clustering_model: Trained) -> None:
    metrics = score(clustering_model.model, clustering_model.holdout)
    baseline = baseline_metrics(
        clustering_model.train, clustering_model.holdout, clustering_model.config
    )
    assert set(metrics) == set(baseline) == {"silhouette", "davies_bouldin"}
    assert metrics["silhouette"] >= baseline["silhouette"] + 0.1
    assert metrics["davies_bouldin"] <= baseline["davies_bouldin"] - 0.5


def test_k_is_chosen_by_silhouette_and_segments_are_named(clustering_model: Trained) -> None:
    metadata = clustering_model.model.metadata
    by_k = metadata["silhouette_by_k"]
    assert set(by_k) == {"3", "4", "5", "6"}
    assert metadata["n_clusters"] == int(max(by_k, key=by_k.get))
    segments = metadata["segments"]
    assert len(segments) == metadata["n_clusters"]
    assert sum(s["size"] for s in segments) == len(clustering_model.train.features)
    names = [s["name"] for s in segments]
    assert len(set(names)) == len(names)
    assert all(name.startswith(KNOWN_NAMES) for name in names)
    # Profiles read in plain units and tell segments apart.
    frequencies = [s["profile"]["frequency"] for s in segments]
    assert max(frequencies) > 2 * min(frequencies)
    json.dumps(metadata)  # JSON-safe


def test_fixed_number_of_clusters(purchases: pd.DataFrame) -> None:
    config = ModelConfig(kind="clustering", n_clusters=4)
    train, holdout = build_datasets(purchases, config)
    model = fit(train, config)
    assert model.metadata["n_clusters"] == 4
    assert len(np.unique(model.estimator.predict(holdout.features))) == 4


def test_predict_names_the_segment(clustering_model: Trained, purchases: pd.DataFrame) -> None:
    model, holdout = clustering_model.model, clustering_model.holdout
    customers = list(holdout.features.index[:6])
    histories = purchases[purchases[schema.CUSTOMER_ID].isin(customers)]
    predictions = predict(model, histories, holdout.cutoff)
    ids = [p["customer_id"] for p in predictions]
    expected = model.estimator.predict(holdout.features.loc[ids])
    assert [p["segment"] for p in predictions] == list(expected)
    assert all(
        p["segment_name"] == model.metadata["segment_names"][str(p["segment"])] for p in predictions
    )
