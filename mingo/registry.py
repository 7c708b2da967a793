"""The MLflow model registry as MinGo uses it: runs, versions of `mingo-<kind>`, aliases.

Aliases: `champion` (what is served), `challenger` (the latest registered candidate, the one
being or last judged), `previous` (the rollback target). The registry is the source of
truth for what should be serving; the decision that moved an alias is recorded as
`mingo.decision.*` tags on the version it concerns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from mingo import MODEL_KINDS, ModelKind, registered_model_name
from mingo.models.api import SKOPS_TRUSTED_TYPES, Dataset, TrainedModel
from mingo.models.target import TargetDefinition
from mingo.tags import DATA_TAG_PREFIX, DECISION_TAG_PREFIX, REQUEST_TAG_PREFIX, TARGET_TAG_PREFIX

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from mlflow import MlflowClient

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS = "previous"
ALIASES: tuple[str, ...] = (CHAMPION, PREVIOUS, CHALLENGER)

BASELINE_PREFIX = "baseline_"
MODEL_ARTIFACT_NAME = "model"
INPUT_EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class LoggedCandidate:
    """A trained model logged in an MLflow run, not registered yet."""

    run_id: str
    model_uri: str
    model_id: str | None


def _pip_requirements() -> list[str]:
    # Inferring requirements runs the model in a subprocess (~13 s); the list is known.
    import numpy
    import pandas
    import sklearn
    import skops

    return [
        f"scikit-learn=={sklearn.__version__}",
        f"pandas=={pandas.__version__}",
        f"numpy=={numpy.__version__}",
        f"skops=={skops.__version__}",
    ]


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    # MLflow stores NaN but JSON consumers of the run choke on it; a missing key says the same.
    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(v)}


def log_candidate(
    experiment_id: str,
    trained: TrainedModel,
    holdout: Dataset,
    params: dict[str, Any],
    metrics: dict[str, float],
    baseline: dict[str, float],
    dataset_tags: dict[str, str],
    figures: dict[str, Figure] | None = None,
) -> LoggedCandidate:
    """Log one training run: params, model and baseline metrics, plots, data identity, model,
    and the monitoring reference (a sample of holdout features and predictions)."""
    import mlflow
    from mlflow.models import infer_signature

    example = holdout.features.head(INPUT_EXAMPLE_ROWS)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics(_finite(metrics))
        mlflow.log_metrics(_finite({f"{BASELINE_PREFIX}{k}": v for k, v in baseline.items()}))
        mlflow.set_tags(dataset_tags)
        mlflow.log_dict(dataset_tags, "dataset_identity.json")
        for name, figure in (figures or {}).items():
            mlflow.log_figure(figure, f"plots/{name}.png")
        info = mlflow.sklearn.log_model(
            trained.estimator,
            name=MODEL_ARTIFACT_NAME,
            signature=infer_signature(example, trained.estimator.predict(example)),
            input_example=example,
            pip_requirements=_pip_requirements(),
            skops_trusted_types=SKOPS_TRUSTED_TYPES or None,
            metadata=trained.metadata,
        )
        # What drift is measured against later (mingo.monitoring); never fails the run.
        from mingo.monitoring.drift import log_reference_snapshot

        log_reference_snapshot(mlflow.MlflowClient(), run.info.run_id, trained, holdout)
        return LoggedCandidate(
            run_id=run.info.run_id, model_uri=info.model_uri, model_id=info.model_id
        )


def register_candidate(
    client: MlflowClient, kind: ModelKind, logged: LoggedCandidate, tags: dict[str, str]
) -> str:
    """Register the logged model as a new version of `mingo-<kind>` and make it `challenger`."""
    from mlflow.exceptions import MlflowException

    name = registered_model_name(kind)
    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    # A tracking server needs the logged model's id to accept its `models:/m-...` source.
    version = client.create_model_version(
        name=name,
        source=logged.model_uri,
        run_id=logged.run_id,
        tags=tags,
        model_id=logged.model_id,
    )
    set_alias(client, kind, CHALLENGER, str(version.version))
    return str(version.version)


def get_alias_version(client: MlflowClient, kind: ModelKind, alias: str) -> str | None:
    """The version number an alias points at, or None (also when the model does not exist)."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(registered_model_name(kind), alias).version)
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def set_alias(client: MlflowClient, kind: ModelKind, alias: str, version: str) -> None:
    client.set_registered_model_alias(registered_model_name(kind), alias, version)


def delete_alias(client: MlflowClient, kind: ModelKind, alias: str) -> None:
    client.delete_registered_model_alias(registered_model_name(kind), alias)


def set_version_tags(
    client: MlflowClient, kind: ModelKind, version: str, tags: dict[str, str]
) -> None:
    name = registered_model_name(kind)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


def get_version_tags(client: MlflowClient, kind: ModelKind, version: str) -> dict[str, str]:
    return dict(client.get_model_version(registered_model_name(kind), version).tags)


def version_exists(client: MlflowClient, kind: ModelKind, version: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        client.get_model_version(registered_model_name(kind), version)
    except MlflowException:
        return False
    return True


def load_model(kind: ModelKind, version_or_alias: str) -> TrainedModel:
    """Load a registered version (`"3"`) or alias (`"champion"`) back as a `TrainedModel`."""
    import mlflow

    name = registered_model_name(kind)
    separator = "/" if version_or_alias.isdigit() else "@"
    uri = f"models:/{name}{separator}{version_or_alias}"
    estimator = mlflow.sklearn.load_model(uri)
    metadata = mlflow.models.get_model_info(uri).metadata or {}
    return TrainedModel(kind=metadata.get("kind", kind), estimator=estimator, metadata=metadata)


class VersionSummary(BaseModel):
    version: str
    run_id: str | None
    created_at: int
    metrics: dict[str, float]
    decision: dict[str, str]


class ModelStatus(BaseModel):
    model: str
    kind: str
    exists: bool
    champion: VersionSummary | None = None
    previous: VersionSummary | None = None
    challenger: VersionSummary | None = None
    latest: VersionSummary | None = None


def _summary(client: MlflowClient, kind: ModelKind, version: str) -> VersionSummary:
    mv = client.get_model_version(registered_model_name(kind), version)
    metrics: dict[str, float] = {}
    if mv.run_id:
        metrics = dict(client.get_run(mv.run_id).data.metrics)
    decision = {k: v for k, v in mv.tags.items() if k.startswith("mingo.")}
    return VersionSummary(
        version=str(mv.version),
        run_id=mv.run_id,
        created_at=int(mv.creation_timestamp or 0),
        metrics=metrics,
        decision=decision,
    )


def model_status(client: MlflowClient, kind: ModelKind) -> ModelStatus:
    """Champion, previous, challenger and latest version of one model, with their metrics."""
    from mlflow.exceptions import MlflowException

    name = registered_model_name(kind)
    try:
        registered = client.get_registered_model(name)
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return ModelStatus(model=name, kind=kind, exists=False)
        raise
    aliases: dict[str, str] = {k: str(v) for k, v in (registered.aliases or {}).items()}
    versions = client.search_model_versions(f"name='{name}'")
    latest = max((int(v.version) for v in versions), default=None)
    return ModelStatus(
        model=name,
        kind=kind,
        exists=True,
        champion=_summary(client, kind, aliases[CHAMPION]) if CHAMPION in aliases else None,
        previous=_summary(client, kind, aliases[PREVIOUS]) if PREVIOUS in aliases else None,
        challenger=_summary(client, kind, aliases[CHALLENGER]) if CHALLENGER in aliases else None,
        latest=_summary(client, kind, str(latest)) if latest is not None else None,
    )


def registry_status(client: MlflowClient) -> list[ModelStatus]:
    return [model_status(client, kind) for kind in MODEL_KINDS]


# -- the recorded decision -----------------------------------------------------------------


class DecisionNotRecordedError(LookupError):
    """The version exists but carries no `mingo.decision.*` tags (not judged, or a crash)."""


class RecordedData(BaseModel):
    """The `mingo.data.*` tags: which data the version was trained and judged on."""

    model_config = ConfigDict(frozen=True, extra="allow")

    uri: str | None = None
    rows: int | None = None
    sha256: str | None = None
    cutoff: date | None = None


class RecordedDecision(BaseModel):
    """A retraining decision as the registry records it on the candidate version.

    The keys of CONTRACT.md's decision JSON that the tags hold keep their names. Every
    `mingo.decision.<key>` tag is read: the ones below typed, any other (a key added by
    `mingo.retraining.decision_tags` later) kept as an extra field, its text as written
    (None when empty), e.g. `recorded.model_extra["some_new_key"]`.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    model: str
    candidate_version: str
    promoted: bool
    reason: str
    forced: bool = False
    metric: str | None = None
    candidate_score: float | None = None
    champion_score: float | None = None
    absolute_improvement: float | None = None
    relative_improvement: float | None = None
    min_absolute_margin: float | None = None
    min_relative_margin: float | None = None
    champion_status: str | None = None
    judged_against: str | None = None
    champion_version_before: str | None = None
    champion_version_after: str | None = None
    decided_at: datetime | None = None
    trigger_reason: str | None = Field(
        default=None,
        description="Why the run was started (e.g. the monitor's reason); None: "
        "a scheduled or manual run, or a version recorded before the field existed.",
    )
    data: RecordedData = Field(default_factory=RecordedData)
    request: dict[str, str | None] = Field(
        default_factory=dict, description="The `mingo.request.*` tags: what the run asked for."
    )
    target: TargetDefinition | None = Field(
        default=None, description="The `mingo.target.*` tags; None on versions that predate them."
    )


def _strip_prefix(tags: dict[str, str], prefix: str) -> dict[str, str | None]:
    # An empty tag value is how the writer records "none" (a missing score, no champion).
    return {k[len(prefix) :]: (v or None) for k, v in tags.items() if k.startswith(prefix)}


def read_decision(client: MlflowClient, kind: ModelKind, version: str) -> RecordedDecision:
    """The decision recorded on `version` of `mingo-<kind>`: the one reader of those tags.

    Raises LookupError when the version does not exist, and DecisionNotRecordedError (a
    LookupError) when it carries no decision.
    """
    from mlflow.exceptions import MlflowException

    name = registered_model_name(kind)
    try:
        tags = dict(client.get_model_version(name, version).tags)
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            raise LookupError(f"{name} has no version {version}") from error
        raise
    decision = _strip_prefix(tags, DECISION_TAG_PREFIX)
    if not decision:
        raise DecisionNotRecordedError(
            f"{name} version {version} carries no {DECISION_TAG_PREFIX}* tags: no decision "
            "was recorded for it (a dry run registers nothing; a retraining that stopped "
            "after registering leaves the version undecided)"
        )
    target = _strip_prefix(tags, TARGET_TAG_PREFIX)
    return RecordedDecision.model_validate(
        {
            **decision,
            "reason": decision.get("reason") or "",
            "model": name,
            "candidate_version": str(version),
            "data": _strip_prefix(tags, DATA_TAG_PREFIX),
            "request": _strip_prefix(tags, REQUEST_TAG_PREFIX),
            "target": target or None,
        }
    )
