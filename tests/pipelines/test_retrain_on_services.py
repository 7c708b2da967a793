"""`mingo train` against the production topology on loopback: an MLflow tracking server
(basic auth) with its backend store in PostgreSQL and artifacts in S3, data read from S3."""

from __future__ import annotations

from pathlib import Path

import pytest

from mingo.config import load_settings
from mingo.models import api as models
from mingo.registry import CHAMPION, load_model
from mingo.retraining.stages import load_purchases
from tests.fixtures.services import MlflowServer, S3Server
from tests.pipelines.conftest import (
    clean_env,
    explain,
    last_json_line,
    run_mingo,
    small_purchases,
    write_purchases_csv,
)


def test_retraining_on_postgres_mlflow_with_s3_artifacts_then_load_champion(
    mlflow_server: MlflowServer,
    s3_server: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket = s3_server.make_bucket("mingo-data")
    csv = write_purchases_csv(small_purchases(), tmp_path / "purchases.csv")
    s3_server.client().fput_object(bucket, "clickbus/purchases.csv", str(csv))
    data_uri = f"s3://{bucket}/clickbus/purchases.csv"

    env = clean_env(tmp_path / "pod-home", **mlflow_server.env())
    result = run_mingo(["train", "binary", "--data", data_uri], env)
    assert result.returncode == 0, explain(result)
    decision = last_json_line(result)
    assert decision["promoted"] is True
    assert decision["data"]["uri"] == data_uri

    # The model's files went through the tracking server into the S3 bucket.
    artifact_bucket, _, prefix = mlflow_server.artifacts_destination.removeprefix(
        "s3://"
    ).partition("/")
    stored = [
        obj.object_name
        for obj in s3_server.client().list_objects(artifact_bucket, prefix=prefix, recursive=True)
    ]
    assert any(name.endswith("/MLmodel") for name in stored), stored[:20]

    # Load the champion back from the registry (PostgreSQL) and S3, as a serving pod would.
    for key, value in mlflow_server.env().items():
        monkeypatch.setenv(key, value)
    champion = load_model("binary", CHAMPION)
    assert champion.kind == "binary"
    _, holdout = models.build_datasets(
        load_purchases(str(csv), load_settings()), models.ModelConfig(kind="binary")
    )
    rescored = models.score(champion, holdout)
    assert rescored[decision["metric"]] == pytest.approx(decision["candidate_score"])
