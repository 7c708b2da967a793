"""Runtime configuration read from the environment; defaults keep everything local.

Every variable of CONTRACT.md is read here and only here, so a pod configured by
environment alone behaves like a laptop with the same variables.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

# Prediction services: how often a worker without a champion asks the registry again
# (MINGO_CHAMPION_POLL_SECONDS), worker processes per service (MINGO_SERVICE_WORKERS) and
# OpenMP/BLAS threads in each worker (OMP_NUM_THREADS).
DEFAULT_CHAMPION_POLL_SECONDS = 10.0
DEFAULT_SERVICE_WORKERS = 1
DEFAULT_THREADS_PER_WORKER = 1
# Per worker: largest requests admitted at once (a request weighs its body size against the
# 16 MiB cap, so small ones are not held back; each holds its body and parsed customers in
# memory) and customers scored in one merged model call; sized in
# benchmarks/results/serving.md so a burst of 16 MiB bodies stays inside a 1.5-2 GiB pod with
# one worker.
DEFAULT_MAX_REQUESTS_IN_FLIGHT = 4
DEFAULT_MAX_BATCH_CUSTOMERS = 1000
# MINGO_AUTH: how the prediction services authenticate callers.
AUTH_API_KEY = "api-key"
AUTH_NONE = "none"
AUTH_MODES = (AUTH_API_KEY, AUTH_NONE)
# MINGO_PREDICTION_LOG_URI: where the services log what they answer (postgresql://... or a
# local path; default <MINGO_HOME>/predictions); this value turns the log off.
PREDICTION_LOG_OFF = "off"


class SettingsError(ValueError):
    """A setting is missing, malformed or contradicts another; the message names it."""


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
    # MINGO_ZENML_ARTIFACT_URI: an s3:// prefix for ZenML's step artifacts (None: the local
    # artifact store under MINGO_HOME, which vanishes with a pod).
    zenml_artifact_uri: str | None = Field(default=None, pattern=r"^s3://[^/]+")
    champion_poll_seconds: float = Field(default=DEFAULT_CHAMPION_POLL_SECONDS, gt=0)
    service_workers: int = Field(default=DEFAULT_SERVICE_WORKERS, ge=1)
    threads_per_worker: int = Field(default=DEFAULT_THREADS_PER_WORKER, ge=1)
    # Prediction services. model_version: None = unset (serve the champion alias), "" = set
    # but empty (a Deployment that pins nothing), "N" = exactly version N.
    model_version: str | None = Field(default=None, pattern=r"^[0-9]*$")
    model_cache_dir: Path | None = None
    max_requests_in_flight: int = Field(default=DEFAULT_MAX_REQUESTS_IN_FLIGHT, ge=1)
    max_batch_customers: int = Field(default=DEFAULT_MAX_BATCH_CUSTOMERS, ge=1)
    # MINGO_AUTH as given (None when unset or empty) and whether MINGO_API_KEY was set empty;
    # `service_api_key()` turns them into the services' rule.
    auth: str | None = None
    api_key_set_empty: bool = False
    # None: the prediction log is off.
    prediction_log_uri: str | None = None

    def service_api_key(self) -> str | None:
        """The key the prediction services require, or None to serve without authentication.

        Raises SettingsError when the settings would turn authentication off by accident (an
        empty key) or contradict each other.
        """
        if self.auth is not None and self.auth not in AUTH_MODES:
            raise SettingsError(f"MINGO_AUTH={self.auth!r} is not one of {', '.join(AUTH_MODES)}")
        if self.auth == AUTH_NONE:
            if self.api_key is not None:
                raise SettingsError(
                    "MINGO_AUTH=none contradicts a non-empty MINGO_API_KEY: unset one of them"
                )
            return None
        if self.api_key is not None:
            return self.api_key
        if self.auth == AUTH_API_KEY:
            raise SettingsError("MINGO_AUTH=api-key requires a non-empty MINGO_API_KEY")
        if self.api_key_set_empty:
            raise SettingsError(
                "MINGO_API_KEY is empty: set a key, or MINGO_AUTH=none to serve "
                "without authentication"
            )
        return None

    @property
    def mlflow_artifact_root(self) -> Path:
        """Where the embedded (SQLite) MLflow keeps artifacts."""
        return self.home / "mlartifacts"

    @property
    def data_s3(self) -> S3Settings:
        """How to reach the S3 server that holds purchase data."""
        return S3Settings(
            endpoint_url=self.data_s3_endpoint_url,
            access_key_id=self.aws_access_key_id,
            secret_access_key=self.aws_secret_access_key,
        )


class S3Settings(BaseModel):
    """An S3 endpoint and its keys, passed to the data layer explicitly."""

    model_config = ConfigDict(frozen=True)

    endpoint_url: str | None
    access_key_id: str | None
    secret_access_key: str | None


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
        zenml_artifact_uri=env.get("MINGO_ZENML_ARTIFACT_URI") or None,
        api_key=env.get("MINGO_API_KEY") or None,
        champion_poll_seconds=float(
            env.get("MINGO_CHAMPION_POLL_SECONDS") or DEFAULT_CHAMPION_POLL_SECONDS
        ),
        service_workers=int(env.get("MINGO_SERVICE_WORKERS") or DEFAULT_SERVICE_WORKERS),
        threads_per_worker=int(env.get("OMP_NUM_THREADS") or DEFAULT_THREADS_PER_WORKER),
        model_version=env.get("MINGO_MODEL_VERSION"),
        model_cache_dir=Path(env["MINGO_MODEL_CACHE_DIR"])
        if env.get("MINGO_MODEL_CACHE_DIR")
        else None,
        max_requests_in_flight=int(
            env.get("MINGO_MAX_REQUESTS_IN_FLIGHT") or DEFAULT_MAX_REQUESTS_IN_FLIGHT
        ),
        max_batch_customers=int(
            env.get("MINGO_MAX_BATCH_CUSTOMERS") or DEFAULT_MAX_BATCH_CUSTOMERS
        ),
        auth=env.get("MINGO_AUTH") or None,
        api_key_set_empty=env.get("MINGO_API_KEY") == "",
        prediction_log_uri=_prediction_log_uri(env.get("MINGO_PREDICTION_LOG_URI"), home),
    )


def _prediction_log_uri(value: str | None, home: Path) -> str | None:
    if not value:
        return str(home / "predictions")
    return None if value.strip().lower() == PREDICTION_LOG_OFF else value


def redacted(uri: str) -> str:
    """`uri` without the password of its user info, for messages and logs."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
