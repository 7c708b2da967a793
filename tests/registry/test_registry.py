"""Logging, registering and loading candidates in a real (embedded) MLflow registry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mingo.config import load_settings
from mingo.registry import (
    CHALLENGER,
    CHAMPION,
    get_alias_version,
    load_model,
    model_status,
    set_alias,
)
from mingo.tracking import mlflow_client
from tests.registry.conftest import RegisteredVersions


def test_each_candidate_is_a_new_version_and_the_latest_is_challenger(
    registry: RegisteredVersions,
) -> None:
    client = mlflow_client(load_settings())
    assert sorted(registry.models) == ["1", "2", "3"]
    assert registry.challenger_after_each == ["1", "2", "3"]
    # Registration never touches the champion.
    assert registry.champion_after_registrations is None
    assert get_alias_version(client, "binary", CHALLENGER) is None  # reset by the fixture


def test_run_records_params_metrics_baseline_and_data_identity(
    registry: RegisteredVersions,
) -> None:
    client = mlflow_client(load_settings())
    logged = registry.logged["2"]
    run = client.get_run(logged.run_id)
    assert run.data.params["seed"] == "1"
    assert run.data.metrics["accuracy"] == 0.81
    assert run.data.metrics["baseline_accuracy"] == 0.5
    assert "roc_auc" not in run.data.metrics  # NaN is left out, not logged as a number
    assert run.data.tags["mingo.data.uri"] == "/data/1.csv"
    path = client.download_artifacts(logged.run_id, "dataset_identity.json")
    identity = json.loads(Path(path).read_text())
    assert identity["mingo.data.sha256"] == "ab" * 32
    version = client.get_model_version("mingo-binary", "2")
    assert version.run_id == logged.run_id
    assert version.tags["seed"] == "1"


def test_logged_model_has_signature_and_input_example(registry: RegisteredVersions) -> None:
    import mlflow

    info = mlflow.models.get_model_info("models:/mingo-binary/1")
    assert info.signature is not None
    assert [spec.name for spec in info.signature.inputs.inputs] == [
        "recency_days",
        "frequency",
        "monetary",
    ]
    assert info.saved_input_example_info is not None
    assert info.metadata == {
        "kind": "binary",
        "features": ["recency_days", "frequency", "monetary"],
    }


def test_load_model_by_version_and_alias_predicts_like_the_original(
    registry: RegisteredVersions,
) -> None:
    set_alias(mlflow_client(load_settings()), "binary", CHAMPION, "3")
    features = registry.holdout.features
    original = registry.models["3"].estimator.predict_proba(features)
    by_alias = load_model("binary", CHAMPION)
    by_version = load_model("binary", "3")
    assert by_alias.kind == "binary"
    assert by_alias.metadata["features"] == ["recency_days", "frequency", "monetary"]
    np.testing.assert_allclose(by_alias.estimator.predict_proba(features), original)
    np.testing.assert_allclose(by_version.estimator.predict_proba(features), original)
    other = registry.models["1"].estimator.predict_proba(features)
    assert not np.allclose(by_alias.estimator.predict_proba(features), other)


def test_status_reports_aliases_latest_and_metrics(registry: RegisteredVersions) -> None:
    client = mlflow_client(load_settings())
    set_alias(client, "binary", CHAMPION, "2")
    set_alias(client, "binary", CHALLENGER, "3")
    status = model_status(client, "binary")
    assert status.exists
    assert status.champion is not None and status.champion.version == "2"
    assert status.champion.metrics["accuracy"] == 0.81
    assert status.challenger is not None and status.challenger.version == "3"
    assert status.previous is None
    assert status.latest is not None and status.latest.version == "3"
    missing = model_status(client, "clustering")
    assert not missing.exists and missing.champion is None
