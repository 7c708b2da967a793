"""Runtime configuration read from the environment; defaults keep everything local.

Every variable of CONTRACT.md is read here and only here, so a pod configured by
environment alone behaves like a laptop with the same variables.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    home: Path
    data_uri: str | None
    mlflow_tracking_uri: str
    s3_endpoint_url: str | None
    data_s3_endpoint_url: str | None
    aws_access_key_id: str | None
    aws_secret_access_key: str | None
    zenml_store_url: str | None
    zenml_store_api_key: str | None
    api_key: str | None

    @property
    def mlflow_artifact_root(self) -> Path:
        """Where the embedded (SQLite) MLflow keeps artifacts."""
        return self.home / "mlartifacts"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    home = Path(env.get("MINGO_HOME", "./.mingo")).expanduser().resolve()
    tracking = env.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home / 'mlflow.db'}"
    return Settings(
        home=home,
        data_uri=env.get("MINGO_DATA_URI") or None,
        mlflow_tracking_uri=tracking,
        s3_endpoint_url=env.get("MLFLOW_S3_ENDPOINT_URL") or None,
        # Purchase data may live on another S3 than MLflow's artifacts.
        data_s3_endpoint_url=env.get("MINGO_S3_ENDPOINT_URL")
        or env.get("MLFLOW_S3_ENDPOINT_URL")
        or None,
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        zenml_store_url=env.get("ZENML_STORE_URL") or None,
        zenml_store_api_key=env.get("ZENML_STORE_API_KEY") or None,
        api_key=env.get("MINGO_API_KEY") or None,
    )
