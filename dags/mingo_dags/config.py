"""The retraining DAGs' configuration: dags/mingo_retrain.yaml plus environment overrides."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# Copies of mingo's names, because the scheduler parses the DAG files without the mingo
# package (Airflow's own image): tests/dags/test_pinned_to_mingo.py pins them to mingo's.
Kind = Literal["binary", "multiclass", "clustering"]  # mingo.ModelKind
Runner = Literal["kubernetes", "local"]
# Who a step pod runs as: training (validate_data, retrain, smoke_test: no Kubernetes API),
# deploying (redeploy, rollback: patch the prediction Deployments).
StepRole = Literal["training", "deploying"]
TRAINING: StepRole = "training"
DEPLOYING: StepRole = "deploying"

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "mingo_retrain.yaml"
CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?LW#]+$")
MANUAL_ONLY = {"none", "manual", ""}
# Presets that are not a cron expression, so they cannot be combined with the asset schedule.
NON_CRON_PRESETS = {"@once", "@continuous"}
# The Airflow Asset whose events mean "new purchase data landed" (its `uri` is an identifier:
# the file a run trains on comes from the event's extra, `data_uri`).
DEFAULT_PURCHASES_ASSET_NAME = "mingo_purchases"
DEFAULT_PURCHASES_ASSET_URI = "s3://mingo-data/clickbus/"
# Copies of mingo.monitoring.monitor's defaults (pinned by tests/dags/test_pinned_to_mingo.py):
# a live gate metric this far below the holdout score, over at least this many outcomes, or a
# PSI above the threshold, means "retrain".
DEFAULT_MONITOR_TOLERANCE = 0.05
DEFAULT_MONITOR_DRIFT_THRESHOLD = 0.25
DEFAULT_MONITOR_MIN_OUTCOMES = 100
DEFAULT_MONITOR_SCHEDULE = "0 6 * * *"
# Batch scores land under <scores_uri>/<kind>/<as_of>.parquet.
DEFAULT_SCORES_URI = "s3://mingo-data/scores"
# An s3://bucket[/prefix] or a path (no other scheme: `mingo score` writes to S3 or a disk).
SCORES_URI_PATTERN = re.compile(r"^(s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/\S*)?|[^:\s][^:]*)$")


class DagConfigError(ValueError):
    """The DAG configuration is invalid; the message names the file and the field."""


class SecretEnv(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    secret: str = Field(min_length=1)
    key: str = Field(min_length=1)


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)


class ServiceAccounts(BaseModel):
    """One service account per step role (the chart creates them with their RBAC)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    training: str = Field(min_length=1)
    deploying: str = Field(min_length=1)


class KubernetesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: str = "mingo"
    image: str
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    service_accounts: ServiceAccounts | None = None
    # The former single account of every step: still read, for both roles, when
    # `service_accounts` is absent (files written before the split keep loading).
    service_account: str | None = Field(default=None, min_length=1)
    config_map: str
    secret_env: dict[str, SecretEnv] = Field(default_factory=dict)
    step_resources: Resources = Field(default_factory=Resources)
    rollout_timeout_seconds: int = Field(default=600, gt=0)

    @model_validator(mode="after")
    def _some_service_account(self) -> KubernetesConfig:
        if self.service_accounts is None and self.service_account is None:
            raise ValueError("set service_accounts: {training: ..., deploying: ...}")
        return self

    def service_account_for(self, role: StepRole) -> str:
        """The service account a step pod of `role` runs as."""
        if self.service_accounts is not None:
            return str(getattr(self.service_accounts, role))
        assert self.service_account is not None  # the validator saw to it
        return self.service_account


def cron_or_preset(value: str | None) -> str | None:
    """A schedule: a cron expression or an @preset; none/manual/empty = manual triggers only."""
    if value is None or value.strip().lower() in MANUAL_ONLY:
        return None
    value = value.strip()
    if value.startswith("@"):
        return value
    fields = value.split()
    if len(fields) not in (5, 6) or not all(CRON_FIELD.match(part) for part in fields):
        raise ValueError(f"{value!r} is not a cron expression (5 fields) or @preset")
    return value


class MonitorDagConfig(BaseModel):
    """KIND's monitoring DAG: when it runs and when its result means "retrain"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: str | None = Field(
        default=DEFAULT_MONITOR_SCHEDULE, description="Cron expression; null = manual only"
    )
    tolerance: float = Field(default=DEFAULT_MONITOR_TOLERANCE, ge=0.0, le=1.0)
    drift_threshold: float = Field(default=DEFAULT_MONITOR_DRIFT_THRESHOLD, gt=0.0)
    min_outcomes: int = Field(default=DEFAULT_MONITOR_MIN_OUTCOMES, ge=1)
    timeout_minutes: int = Field(default=30, gt=0)
    resources: Resources | None = Field(default=None, description="Default: step_resources")

    _schedule = field_validator("schedule")(staticmethod(cron_or_preset))


class ScoreDagConfig(BaseModel):
    """KIND's batch-scoring DAG: manual by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: str | None = Field(default=None, description="Cron expression; null = manual only")
    timeout_minutes: int = Field(default=30, gt=0)
    resources: Resources | None = Field(default=None, description="Default: step_resources")

    _schedule = field_validator("schedule")(staticmethod(cron_or_preset))


class ModelDagConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: str | None = Field(description="Cron expression; null = manual triggers only")
    # Also run when the purchases asset gets an event (schedule = cron OR asset).
    on_new_data: bool = False
    train_timeout_minutes: int = Field(default=120, gt=0)
    train_resources: Resources = Field(default_factory=Resources)
    monitor: MonitorDagConfig = Field(default_factory=MonitorDagConfig)
    score: ScoreDagConfig = Field(default_factory=ScoreDagConfig)

    _schedule = field_validator("schedule")(staticmethod(cron_or_preset))

    @model_validator(mode="after")
    def _cron_to_combine(self) -> ModelDagConfig:
        if self.on_new_data and self.schedule in NON_CRON_PRESETS:
            raise ValueError(f"on_new_data needs a cron schedule or none, not {self.schedule!r}")
        return self


class PurchasesAsset(BaseModel):
    """The Airflow Asset that stands for the purchases data (one for all models)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default=DEFAULT_PURCHASES_ASSET_NAME, min_length=1)
    uri: str = Field(default=DEFAULT_PURCHASES_ASSET_URI, min_length=1)


class DagConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    runner: Runner = "kubernetes"
    owner: str = "mingo"
    retries: int = Field(default=2, ge=0)
    retry_delay_minutes: float = Field(default=2, gt=0)
    retry_exponential_backoff: float = Field(default=2.0, ge=0)
    max_retry_delay_minutes: float = Field(default=30, gt=0)
    # Checked against the built DAG's worst case (mingo_dags.timeouts.check_run_timeout).
    dagrun_timeout_minutes: int = Field(default=600, gt=0)
    kubernetes: KubernetesConfig
    purchases_asset: PurchasesAsset = Field(default_factory=PurchasesAsset)
    scores_uri: str = Field(default=DEFAULT_SCORES_URI, pattern=SCORES_URI_PATTERN.pattern)
    models: dict[Kind, ModelDagConfig]

    @field_validator("scores_uri")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/") or value


def model_name(kind: str) -> str:
    """The registered model of KIND in MLflow (mingo.registered_model_name)."""
    return f"mingo-{kind}"


def schedule_variable(kind: str) -> str:
    """The environment variable that overrides the schedule of KIND's DAG."""
    return f"MINGO_RETRAIN_SCHEDULE_{kind.upper()}"


def on_new_data_variable(kind: str) -> str:
    """The environment variable that turns KIND's asset schedule on (true) or off (false)."""
    return f"MINGO_RETRAIN_ON_NEW_DATA_{kind.upper()}"


def monitor_schedule_variable(kind: str) -> str:
    """The environment variable that overrides the schedule of KIND's monitoring DAG."""
    return f"MINGO_MONITOR_SCHEDULE_{kind.upper()}"


def score_schedule_variable(kind: str) -> str:
    """The environment variable that overrides the schedule of KIND's batch-scoring DAG."""
    return f"MINGO_SCORE_SCHEDULE_{kind.upper()}"


def load_dag_config(path: Path | None = None, environ: dict[str, str] | None = None) -> DagConfig:
    """Read the YAML file (MINGO_DAGS_CONFIG or the shipped one) and apply the overrides."""
    env = dict(os.environ if environ is None else environ)
    config_path = Path(path or env.get("MINGO_DAGS_CONFIG") or DEFAULT_CONFIG_PATH)
    try:
        raw = yaml.safe_load(config_path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise DagConfigError(f"cannot read the DAG configuration {config_path}: {error}") from error
    if not isinstance(raw, dict):
        raise DagConfigError(f"{config_path}: expected a mapping at the top level")
    if env.get("MINGO_RUNNER"):
        raw["runner"] = env["MINGO_RUNNER"]
    if env.get("MINGO_PIPELINE_IMAGE"):
        raw.setdefault("kubernetes", {})["image"] = env["MINGO_PIPELINE_IMAGE"]
    if env.get("MINGO_SCORES_URI"):
        raw["scores_uri"] = env["MINGO_SCORES_URI"]
    for kind, model in (raw.get("models") or {}).items():
        if not isinstance(model, dict):
            continue
        override = env.get(schedule_variable(str(kind)))
        if override is not None:
            model["schedule"] = override
        on_new_data = env.get(on_new_data_variable(str(kind)))
        if on_new_data is not None:
            model["on_new_data"] = on_new_data.strip()
        for block, variable in (
            ("monitor", monitor_schedule_variable(str(kind))),
            ("score", score_schedule_variable(str(kind))),
        ):
            override = env.get(variable)
            if override is not None:
                if model.get(block) is None:
                    model[block] = {}
                if isinstance(model[block], dict):
                    model[block]["schedule"] = override
    try:
        return DagConfig.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}"
            for issue in error.errors()
        )
        raise DagConfigError(f"{config_path} (with environment overrides): {problems}") from error
