"""A module-wide embedded MLflow registry holding three versions of `mingo-binary`.

Logging a model costs seconds, so the versions are registered once per module; each test
starts from cleared aliases.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mingo.config import load_settings
from mingo.models.api import Dataset, TrainedModel
from mingo.promotion import REPLACED_VERSION_TAG
from mingo.registry import (
    CHALLENGER,
    CHAMPION,
    LoggedCandidate,
    get_alias_version,
    log_candidate,
    register_candidate,
)
from mingo.tracking import ensure_experiment, mlflow_client

FEATURES = ["recency_days", "frequency", "monetary"]


@dataclass(frozen=True)
class RegisteredVersions:
    home: Path
    holdout: Dataset
    models: dict[str, TrainedModel]
    logged: dict[str, LoggedCandidate]
    challenger_after_each: list[str | None]
    champion_after_registrations: str | None


def small_model(seed: int) -> tuple[TrainedModel, Dataset]:
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(rng.normal(size=(60, 3)), columns=FEATURES)
    features.index = pd.Index([f"c{i}" for i in range(60)], name="fk_contact")
    labels = pd.Series((features["frequency"] + rng.normal(scale=0.5, size=60) > 0).astype(int))
    estimator = make_pipeline(StandardScaler(), LogisticRegression(C=0.1 * (seed + 1)))
    estimator.fit(features, labels)
    trained = TrainedModel(
        kind="binary", estimator=estimator, metadata={"kind": "binary", "features": FEATURES}
    )
    return trained, Dataset(features=features, labels=labels, cutoff=date(2024, 3, 1))


@pytest.fixture(scope="module")
def registered_versions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegisteredVersions]:
    home = tmp_path_factory.mktemp("registry-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINGO_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        experiment_id = ensure_experiment("binary", load_settings())
        client = mlflow_client(load_settings())
        models: dict[str, TrainedModel] = {}
        logged: dict[str, LoggedCandidate] = {}
        holdout: Dataset | None = None
        challengers: list[str | None] = []
        for seed in range(3):
            trained, holdout = small_model(seed)
            candidate = log_candidate(
                experiment_id=experiment_id,
                trained=trained,
                holdout=holdout,
                params={"seed": seed, "kind": "binary"},
                metrics={"accuracy": 0.8 + seed / 100, "roc_auc": float("nan")},
                baseline={"accuracy": 0.5},
                dataset_tags={
                    "mingo.data.uri": f"/data/{seed}.csv",
                    "mingo.data.sha256": "ab" * 32,
                },
            )
            version = register_candidate(client, "binary", candidate, {"seed": str(seed)})
            models[version] = trained
            logged[version] = candidate
            challengers.append(get_alias_version(client, "binary", CHALLENGER))
        assert holdout is not None
        yield RegisteredVersions(
            home=home,
            holdout=holdout,
            models=models,
            logged=logged,
            challenger_after_each=challengers,
            champion_after_registrations=get_alias_version(client, "binary", CHAMPION),
        )


@pytest.fixture
def registry(
    registered_versions: RegisteredVersions, monkeypatch: pytest.MonkeyPatch
) -> RegisteredVersions:
    monkeypatch.setenv("MINGO_HOME", str(registered_versions.home))
    client = mlflow_client(load_settings())
    for alias in client.get_registered_model("mingo-binary").aliases:
        client.delete_registered_model_alias("mingo-binary", alias)
    for version in registered_versions.models:
        if REPLACED_VERSION_TAG in client.get_model_version("mingo-binary", version).tags:
            client.delete_model_version_tag("mingo-binary", version, REPLACED_VERSION_TAG)
    return registered_versions
