"""Skops round trip through MLflow: what the registry logs is what serving loads."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.sklearn
import pandas as pd
import pytest
import yaml

from mingo.data import schema
from mingo.models import SKOPS_TRUSTED_TYPES, TrainedModel, predict
from tests.models.conftest import Trained


@pytest.mark.parametrize("kind", ["binary", "multiclass", "clustering"])
def test_skops_round_trip_gives_identical_predictions(
    kind: str, request: pytest.FixtureRequest, purchases: pd.DataFrame, tmp_path: Path
) -> None:
    trained: Trained = request.getfixturevalue(f"{kind}_model")
    model = trained.model
    path = tmp_path / kind
    mlflow.sklearn.save_model(
        model.estimator,
        str(path),
        serialization_format="skops",
        skops_trusted_types=SKOPS_TRUSTED_TYPES,
        metadata=model.metadata,
        pip_requirements=["scikit-learn"],
    )
    assert (path / "model.skops").exists()
    assert not list(path.glob("*.pkl"))

    estimator = mlflow.sklearn.load_model(str(path))
    metadata = yaml.safe_load((path / "MLmodel").read_text())["metadata"]
    assert json.loads(json.dumps(model.metadata)) == metadata
    loaded = TrainedModel(kind=metadata["kind"], estimator=estimator, metadata=metadata)

    customers = list(trained.holdout.features.index[:50])
    histories = purchases[purchases[schema.CUSTOMER_ID].isin(customers)]
    as_of = trained.holdout.cutoff
    assert predict(loaded, histories, as_of) == predict(model, histories, as_of)
