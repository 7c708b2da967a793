"""Read-only MLflow credentials, as the chart gives prediction pods: load a pinned version,
never move an alias.

A real basic-auth MLflow server (PostgreSQL backend, artifacts proxied to the S3 server) of
this module's own. The admin registers `mingo-binary` version 1 and makes it the champion,
creates a user through MLflow's basic-auth REST API and grants it READ on the registered
model; that user, through the MlflowClient, loads `models:/mingo-binary/1` (the artifacts come
through the server: no S3 key needed) and is refused (403) when it tries to move `champion`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tests.fixtures.mlflow_globals import unset_mlflow_globals
from tests.fixtures.services import (
    MlflowServer,
    PostgresServer,
    S3Server,
    running_mlflow_server,
)

MODEL = "mingo-binary"
READER = "mingo-prediction-reader"
PIP_REQUIREMENTS = ["scikit-learn==1.9.1", "numpy"]


@dataclass(frozen=True)
class Registry:
    server: MlflowServer
    reader_password: str
    estimator: LogisticRegression
    rows: np.ndarray
    version: str


def as_user(
    monkeypatch: pytest.MonkeyPatch, server: MlflowServer, user: str, password: str
) -> None:
    """The MLflow client reads its credentials from the environment at each request."""
    unset_mlflow_globals(monkeypatch)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.tracking_uri)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    # A prediction pod has no S3 key: artifacts come through the tracking server.
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_S3_ENDPOINT_URL"):
        monkeypatch.delenv(variable, raising=False)


def admin_post(server: MlflowServer, path: str, body: dict[str, str]) -> None:
    """POST to MLflow's auth REST API as the admin (`path` includes the API version)."""
    response = httpx.post(
        f"{server.tracking_uri}/api/{path}",
        json=body,
        auth=(server.username, server.password),
        timeout=30,
    )
    assert response.status_code == 200, (path, response.status_code, response.text)


@pytest.fixture(scope="module")
def registry(postgres_server: PostgresServer, s3_server: S3Server) -> Iterator[Registry]:
    import mlflow
    import mlflow.sklearn

    rng = np.random.default_rng(7)
    rows = rng.normal(size=(40, 3))
    estimator = LogisticRegression().fit(rows, (rows[:, 0] > 0).astype(int))
    reader_password = secrets.token_urlsafe(16)
    with (
        running_mlflow_server("mingo-reader-mlflow-", postgres_server, s3_server) as server,
        pytest.MonkeyPatch.context() as monkeypatch,
    ):
        as_user(monkeypatch, server, server.username, server.password)
        previous_uri = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(server.tracking_uri)
        try:
            mlflow.set_experiment("reader-credentials")
            with mlflow.start_run():
                info = mlflow.sklearn.log_model(
                    estimator,
                    name="binary",
                    registered_model_name=MODEL,
                    pip_requirements=PIP_REQUIREMENTS,
                )
            version = str(info.registered_model_version)
            mlflow.MlflowClient().set_registered_model_alias(MODEL, "champion", version)
        finally:
            mlflow.set_tracking_uri(previous_uri)
        admin_post(
            server, "2.0/mlflow/users/create", {"username": READER, "password": reader_password}
        )
        # MLflow 3.17's grant (the older registered-models/permissions/create is gone).
        admin_post(
            server,
            "3.0/mlflow/users/permissions/grant",
            {
                "username": READER,
                "resource_type": "registered_model",
                "resource_id": MODEL,
                "permission": "READ",
            },
        )
        yield Registry(server, reader_password, estimator, rows, version)


def test_the_reader_loads_the_pinned_version(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.sklearn

    as_user(monkeypatch, registry.server, READER, registry.reader_password)
    loaded = mlflow.sklearn.load_model(f"models:/{MODEL}/{registry.version}")
    np.testing.assert_allclose(
        loaded.predict_proba(registry.rows), registry.estimator.predict_proba(registry.rows)
    )


def test_the_reader_cannot_move_an_alias(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    server = registry.server
    granted = httpx.get(
        f"{server.tracking_uri}/api/3.0/mlflow/users/permissions/get",
        params={"username": READER, "resource_type": "registered_model", "resource_id": MODEL},
        auth=(server.username, server.password),
        timeout=30,
    )
    assert granted.status_code == 200, granted.text
    assert "READ" in granted.text and "EDIT" not in granted.text, granted.text
    as_user(monkeypatch, server, READER, registry.reader_password)
    client = MlflowClient(tracking_uri=server.tracking_uri)
    assert client.get_model_version_by_alias(MODEL, "champion").version == registry.version
    with pytest.raises(MlflowException) as refused:
        client.set_registered_model_alias(MODEL, "champion", registry.version)
    assert refused.value.get_http_status_code() == 403, refused.value
    with pytest.raises(MlflowException) as refused_delete:
        client.delete_registered_model_alias(MODEL, "champion")
    assert refused_delete.value.get_http_status_code() == 403
    # The admin's credentials could (the refusal is the permission, not the request).
    as_user(monkeypatch, registry.server, registry.server.username, registry.server.password)
    client.set_registered_model_alias(MODEL, "previous", registry.version)
    assert client.get_model_version_by_alias(MODEL, "previous").version == registry.version
