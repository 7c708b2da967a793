"""`mingo train` as a pipeline pod runs it: ZenML through ZENML_STORE_URL + ZENML_STORE_API_KEY
to a real ZenML server (MariaDB store), MLflow through the basic-auth tracking server on
PostgreSQL and S3, ZenML's step artifacts in S3. Everything is read back from the servers: the
ZenML server's REST API, its MariaDB tables, and the MLflow registry."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from mingo.registry import CHAMPION
from tests.fixtures.mlflow_globals import unset_mlflow_globals
from tests.fixtures.services import MlflowServer, S3Server
from tests.pipelines.conftest import (
    REPO_ROOT,
    clean_env,
    explain,
    last_json_line,
    run_mingo,
    small_purchases,
    write_purchases_csv,
)
from tests.zenml_server.conftest import ZenmlServer

pytestmark = pytest.mark.services

PIPELINE_NAME = "retraining_pipeline"
STEPS = {
    "load_purchases",
    "validate_purchases",
    "build_datasets",
    "train_model",
    "evaluate_model",
    "register_candidate",
    "compare_with_champion",
    "promote_or_reject",
}
ARTIFACT_BUCKET = "mingo-zenml-server"
RUN_NAME_IN_LOG = re.compile(r"ZenML run (retrain-binary-\S+)")
# The project's own reader of the link, in a fresh process: ZenML reads its store settings
# when first imported, so it must not be imported into the test process.
READ_PRODUCTION_VERSION = """
from mingo.config import load_settings
from zenml_pipelines.environment import prepare_zenml
prepare_zenml(load_settings())
from zenml_pipelines.lineage import production_mlflow_version
print(production_mlflow_version("binary"))
"""


def test_train_is_recorded_by_the_zenml_server_with_its_model_version_linked_to_mlflow(
    zenml_server: ZenmlServer,
    mlflow_server: MlflowServer,
    s3_server: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    csv = write_purchases_csv(small_purchases(), tmp_path / "purchases.csv")
    s3_server.make_bucket(ARTIFACT_BUCKET)
    env = clean_env(
        tmp_path / "pod-home",
        **mlflow_server.env(),
        **zenml_server.client_env(),
        MINGO_ZENML_ARTIFACT_URI=f"s3://{ARTIFACT_BUCKET}/artifacts",
    )
    # The session's MLflow server may already hold a binary champion trained on the same
    # data by another test on this worker: force the promotion, whose lineage is the point.
    result = run_mingo(["train", "binary", "--data", str(csv), "--force-promote"], env)
    assert result.returncode == 0, explain(result)
    decision = last_json_line(result)
    assert decision["promoted"] is True, decision["reason"]
    mlflow_version = decision["candidate_version"]

    # The run name `mingo train` reports (the server is shared by the session: find this run).
    reported = RUN_NAME_IN_LOG.search(result.stderr)
    assert reported is not None, explain(result)
    run_name = reported.group(1)

    with zenml_server.api_key_session() as api:
        runs = api.get("/runs", params={"name": run_name, "hydrate": "true"}).raise_for_status()
        assert runs.json()["total"] == 1, runs.json()
        run = runs.json()["items"][0]
        assert run["name"].startswith("retrain-binary-"), run["name"]
        assert run["body"]["status"] == "completed", run["body"]
        # Recorded by the pod's identity, the service account of the API key.
        assert run["body"]["user_id"] == zenml_server.service_account_id
        assert run["resources"]["pipeline"]["name"] == PIPELINE_NAME

        steps = api.get(
            "/steps", params={"pipeline_run_id": run["id"], "size": 50}
        ).raise_for_status()
        statuses = {step["name"]: step["body"]["status"] for step in steps.json()["items"]}
        assert statuses == dict.fromkeys(STEPS, "completed"), statuses

        # The step outputs the server points at live in S3, not in the pod's MINGO_HOME.
        outputs = api.get(
            "/artifact_versions", params={"pipeline_run": run["id"], "size": 100}
        ).raise_for_status()
        uris = [item["body"]["uri"] for item in outputs.json()["items"]]
        assert uris, outputs.json()
        assert all(uri.startswith(f"s3://{ARTIFACT_BUCKET}/artifacts/") for uri in uris), uris

        linked = run["resources"]["model_version"]
        assert linked["body"]["model"]["name"] == "mingo-binary"
        model_version = api.get(
            f"/model_versions/{linked['id']}", params={"hydrate": "true"}
        ).raise_for_status()
        version = model_version.json()
        assert version["body"]["stage"] == "production"
        recorded = version["metadata"]["run_metadata"]
        assert recorded["mlflow_registered_model"] == "mingo-binary"
        assert str(recorded["mlflow_version"]) == mlflow_version
        assert recorded["mlflow_run_id"] == decision["mlflow_run_id"]
        assert recorded["promoted"] is True

    # What the project reads as the production version, asked of the server by a fresh client.
    reader = subprocess.run(
        [sys.executable, "-c", READ_PRODUCTION_VERSION],
        env=clean_env(tmp_path / "reader-home", **zenml_server.client_env()),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert reader.returncode == 0, explain(reader)
    assert reader.stdout.strip().splitlines()[-1] == mlflow_version, explain(reader)

    # The same version, seen from MLflow's side: the champion the run registered.
    unset_mlflow_globals(monkeypatch)
    for key, value in mlflow_server.env().items():
        monkeypatch.setenv(key, value)
    registry = MlflowClient(tracking_uri=mlflow_server.tracking_uri)
    champion = registry.get_model_version_by_alias("mingo-binary", CHAMPION)
    assert champion.version == mlflow_version
    assert champion.run_id == recorded["mlflow_run_id"]

    # And the server keeps it in MariaDB, not in a file of its own.
    database = zenml_server.database
    assert database.query("SELECT name, status FROM pipeline_run") == [(run["name"], "completed")]
    assert database.query(
        "SELECT COUNT(*) FROM step_run WHERE pipeline_run_id = %s AND status = 'completed'",
        run["id"].replace("-", ""),
    ) == [(len(STEPS),)]
