"""Read-only credentials for the prediction pods in the pod tests (the chart's
predictionSecretEnv: Secrets mingo-s3-reader and mingo-mlflow-reader).

MLflow: a real non-admin user on the test server, whose default permission is READ: it can load
any model version and cannot move an alias or register a version. S3: the test S3 server has a
single identity, so the reader Secret carries the same key as the pipeline's (the read-only
MinIO policy of helm-values/minio.yaml is not exercised here).
"""

from __future__ import annotations

import base64
import json
import secrets
import urllib.request

from tests.fixtures.services import MlflowServer


def create_mlflow_reader(server: MlflowServer) -> tuple[str, str]:
    """A new non-admin user on `server` (created by its admin); returns username, password."""
    username = "mingo-reader-" + secrets.token_hex(3)
    password = secrets.token_urlsafe(18)
    admin = base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
    request = urllib.request.Request(
        f"{server.tracking_uri}/api/2.0/mlflow/users/create",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Basic {admin}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200, answer.status
    return username, password
