"""The stages of one retraining, as plain functions the ZenML steps call.

load -> validate -> datasets -> train -> evaluate -> register -> compare -> promote/reject.
Every function here runs without ZenML (the steps only pass their outputs along), so the
logic is tested directly and a pipeline step stays a few lines.

A retraining never touches `champion` unless the candidate was registered, re-judged
against the champion re-scored on the same holdout, and won (or was forced). Failures raise
before the promotion stage, leaving the registry as it was (a registered but unpromoted
candidate only carries `challenger`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mingo import ModelKind, registered_model_name
from mingo.config import load_settings
from mingo.models import api as models
from mingo.models.target import TargetDefinition, target_of
from mingo.promotion import (
    PromotionPolicy,
    Reference,
    Verdict,
    judge,
    promote_version,
    refuse_incomparable,
)
from mingo.registry import (
    CHAMPION,
    LoggedCandidate,
    get_alias_version,
    load_model,
    log_candidate,
    register_candidate,
    set_version_tags,
)
from mingo.report import record_retraining_report
from mingo.tracking import ensure_experiment, mlflow_client

# Test-only fault injection: when this variable is "1" the process dies right after a
# candidate is registered and before anything is judged or promoted.
FAULT_AFTER_REGISTER_ENV = "MINGO_FAULT_AFTER_REGISTER"
FAULT_EXIT_CODE = 86

DECISION_TAG_PREFIX = "mingo.decision."
TARGET_TAG_PREFIX = "mingo.target."

# How the champion took part in the judgement: none yet; re-scored on the candidate's holdout;
# answering another question (horizon, window, candidate policy); or not loadable/scorable.
ChampionStatus = Literal["none", "scored", "not_comparable", "unscorable"]


class RetrainingConfig(BaseModel):
    """One retraining: what data, how to train, when to promote (zenml_pipelines/configs)."""

    model_config = ConfigDict(extra="forbid")

    kind: ModelKind
    data_uri: str | None = None
    training: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields of mingo.models.ModelConfig (cutoff, horizon_days, ...), KIND aside.",
    )
    promotion: PromotionPolicy | None = None

    @model_validator(mode="after")
    def _training_fits_model_config(self) -> RetrainingConfig:
        # Validate here so a wrong training key fails when the YAML is read, naming it.
        try:
            self.model_config_for_training()
        except ValidationError as error:
            problems = "; ".join(
                f"training.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
            )
            raise ValueError(problems) from None
        return self

    def policy(self) -> PromotionPolicy:
        return self.promotion or PromotionPolicy.default_for(self.kind)

    def model_config_for_training(self) -> models.ModelConfig:
        return models.ModelConfig(kind=self.kind, **self.training)

    def with_absolute_margin(self, margin: float) -> RetrainingConfig:
        """A copy whose candidate must win by `margin` (absolute) alone: an operator who sets
        one number expects exactly that number to decide, so the relative rule is switched off."""
        policy = self.policy().model_copy(
            update={"min_absolute_margin": margin, "min_relative_margin": None}
        )
        return RetrainingConfig.model_validate(
            {**self.model_dump(), "promotion": policy.model_dump()}
        )

    def with_training(self, **overrides: Any) -> RetrainingConfig:
        """A copy with some training fields replaced (CLI options over the YAML)."""
        return RetrainingConfig.model_validate(
            {**self.model_dump(), "training": {**self.training, **overrides}}
        )


def read_retraining_config(path: Path) -> RetrainingConfig:
    """Parse a pipeline YAML; a wrong key or value names the field and the file."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read pipeline config {path}: {error}") from error
    try:
        return RetrainingConfig.model_validate(raw)
    except ValidationError as error:
        raise ValueError(f"invalid pipeline config {path}:\n{error}") from error


class DataIdentity(BaseModel):
    """Which data a model was trained on: enough to tell two datasets apart."""

    uri: str
    rows: int
    sha256: str = Field(description="SHA-256 of the canonical (validated) frame's row hashes.")
    cutoff: date | None = Field(default=None, description="The holdout cutoff used.")

    def as_tags(self) -> dict[str, str]:
        return {
            "mingo.data.uri": self.uri,
            "mingo.data.rows": str(self.rows),
            "mingo.data.sha256": self.sha256,
            "mingo.data.cutoff": "" if self.cutoff is None else self.cutoff.isoformat(),
        }


class CandidateRecord(BaseModel):
    """Where a candidate lives in MLflow (no version on a dry run)."""

    kind: ModelKind
    run_id: str | None
    model_uri: str | None
    version: str | None
    metrics: dict[str, float]
    baseline: dict[str, float]
    target: TargetDefinition


class Comparison(BaseModel):
    """The verdict and the champion it was judged against."""

    champion_version_before: str | None
    champion_status: ChampionStatus
    champion_target: TargetDefinition | None = None
    verdict: Verdict
    champion_metrics: dict[str, float] | None = Field(
        default=None, description="The champion's metrics re-scored on the candidate's holdout."
    )


class Decision(BaseModel):
    """The decision JSON `mingo train` prints as its last line (CONTRACT.md keys first)."""

    model: str
    candidate_version: str | None
    champion_version_before: str | None
    champion_version_after: str | None
    promoted: bool
    metric: str
    candidate_score: float | None
    champion_score: float | None
    reason: str
    champion_status: ChampionStatus
    judged_against: Reference
    candidate_target: TargetDefinition
    champion_target: TargetDefinition | None
    absolute_margin: float | None
    relative_margin: float | None
    required_absolute_margin: float
    required_relative_margin: float | None
    guardrails: list[dict[str, Any]]
    forced: bool
    dry_run: bool
    data: DataIdentity
    mlflow_run_id: str | None
    candidate_metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    decided_at: datetime


# -- load and validate -------------------------------------------------------------------


def load_purchases(uri: str) -> pd.DataFrame:
    """Read the purchases at URI (local path or s3://) into a canonical frame."""
    from mingo.data import load_purchases as load

    return load(uri)


def validate_purchases(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop the rows the validator drops; raise its error (column, rows, rule) when unusable.

    Returns the clean frame and the number of rows dropped per rule (plus the totals).
    """
    from mingo.data import clean_purchases

    cleaned, report = clean_purchases(frame)
    summary = {"rows": report.rows, "dropped_rows": report.dropped_rows}
    summary.update({f"dropped: {rule}": count for rule, count in report.dropped_by_rule().items()})
    return cleaned, summary


def identify_data(uri: str, frame: pd.DataFrame, cutoff: date | None = None) -> DataIdentity:
    """Identity of a canonical frame: URI, rows and a content hash independent of file format."""
    row_hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(row_hashes.tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return DataIdentity(uri=uri, rows=len(frame), sha256=digest.hexdigest(), cutoff=cutoff)


# -- train and evaluate ------------------------------------------------------------------


def evaluate(
    trained: models.TrainedModel,
    train: models.Dataset,
    holdout: models.Dataset,
    config: models.ModelConfig,
) -> tuple[dict[str, float], dict[str, float]]:
    """(model metrics, naive baseline metrics) on the holdout."""
    return models.score(trained, holdout), models.baseline_metrics(train, holdout, config)


def _figures(trained: models.TrainedModel, holdout: models.Dataset) -> dict[str, Any]:
    # Plots come from mingo.models.plots when that module is present.
    if importlib.util.find_spec("mingo.models.plots") is None:
        return {}
    plots = importlib.import_module("mingo.models.plots")
    figures: dict[str, Any] = plots.figures(trained, holdout)
    return figures


# -- register ----------------------------------------------------------------------------


def register(
    trained: models.TrainedModel,
    holdout: models.Dataset,
    config: models.ModelConfig,
    metrics: dict[str, float],
    baseline: dict[str, float],
    identity: DataIdentity,
    dry_run: bool,
) -> CandidateRecord:
    """Log the run and register the candidate as `challenger` (nothing at all on a dry run)."""
    kind = trained.kind
    if dry_run:
        return CandidateRecord(
            kind=kind,
            run_id=None,
            model_uri=None,
            version=None,
            metrics=metrics,
            baseline=baseline,
            target=target_of(trained),
        )
    experiment_id = ensure_experiment(kind)
    params: dict[str, Any] = {**config.model_dump(mode="json"), "data_uri": identity.uri}
    logged: LoggedCandidate = log_candidate(
        experiment_id=experiment_id,
        trained=trained,
        holdout=holdout,
        params=params,
        metrics=metrics,
        baseline=baseline,
        dataset_tags=identity.as_tags(),
        figures=_figures(trained, holdout),
    )
    tags = {**identity.as_tags(), **target_of(trained).as_tags(TARGET_TAG_PREFIX)}
    try:
        version = register_candidate(mlflow_client(), kind, logged, tags)
    except Exception as error:
        raise RuntimeError(
            f"registering the candidate of {registered_model_name(kind)} failed "
            f"(MLflow at {load_settings().mlflow_tracking_uri}): {error}"
        ) from error
    if os.environ.get(FAULT_AFTER_REGISTER_ENV) == "1":
        os._exit(FAULT_EXIT_CODE)
    return CandidateRecord(
        kind=kind,
        run_id=logged.run_id,
        model_uri=logged.model_uri,
        version=version,
        metrics=metrics,
        baseline=baseline,
        target=target_of(trained),
    )


# -- compare and promote -----------------------------------------------------------------


def compare(
    candidate: CandidateRecord,
    holdout: models.Dataset,
    policy: PromotionPolicy,
    force: bool,
) -> Comparison:
    """Judge the candidate against the champion RE-SCORED on the same holdout.

    A champion that answers another question (target definition) is not compared: the
    candidate is not promoted unless forced. A champion that cannot be loaded or scored does
    not block retraining forever: the candidate is judged against the naive baseline on the
    same holdout instead (margin and guardrails alike). A registry or store that cannot be
    reached is neither: it raises, so the run fails (retryable) with the champion untouched.
    """
    client = mlflow_client()
    version = get_alias_version(client, candidate.kind, CHAMPION)
    if version is None:
        return Comparison(
            champion_version_before=None,
            champion_status="none",
            verdict=judge(candidate.metrics, None, policy, force=force),
        )
    try:
        champion = load_model(candidate.kind, version)
        champion_target = target_of(champion)
    except Exception as error:
        _raise_if_unreachable(error)
        return _against_baseline(
            candidate,
            version,
            None,
            f"version {version} cannot be loaded: {_brief(error)}",
            policy,
            force,
        )
    differences = candidate.target.differences(champion_target)
    if differences:
        return Comparison(
            champion_version_before=version,
            champion_status="not_comparable",
            champion_target=champion_target,
            verdict=refuse_incomparable(candidate.metrics, differences, policy, force),
        )
    if champion_target.feature_schema_version != candidate.target.feature_schema_version:
        problem = (
            f"version {version} needs feature schema {champion_target.feature_schema_version}, "
            f"this code computes {candidate.target.feature_schema_version}"
        )
        return _against_baseline(candidate, version, champion_target, problem, policy, force)
    try:
        champion_metrics = models.score(champion, holdout)
    except Exception as error:
        _raise_if_unreachable(error)
        problem = f"version {version} cannot be scored: {_brief(error)}"
        return _against_baseline(candidate, version, champion_target, problem, policy, force)
    return Comparison(
        champion_version_before=version,
        champion_status="scored",
        champion_target=champion_target,
        verdict=judge(candidate.metrics, champion_metrics, policy, force=force),
        champion_metrics=champion_metrics,
    )


def _against_baseline(
    candidate: CandidateRecord,
    version: str,
    champion_target: TargetDefinition | None,
    problem: str,
    policy: PromotionPolicy,
    force: bool,
) -> Comparison:
    verdict = judge(candidate.metrics, candidate.baseline, policy, force=force, against="baseline")
    return Comparison(
        champion_version_before=version,
        champion_status="unscorable",
        champion_target=champion_target,
        verdict=verdict.model_copy(
            update={
                "reason": f"champion unscorable: {problem}; judged against the naive "
                f"baseline instead: {verdict.reason}",
                # The champion was not scored: its score stays empty, the baseline's is in
                # the baseline metrics and the margins.
                "champion_score": None,
            }
        ),
    )


# Words of the HTTP and S3 clients when a server does not answer (their exception types are
# often flattened into MlflowException messages on the way up).
_UNREACHABLE_MARKERS = (
    "connection refused",
    "max retries exceeded",
    "could not connect",
    "failed to establish a new connection",
    "name or service not known",
    "timed out",
)


def _raise_if_unreachable(error: Exception) -> None:
    """Re-raise when the registry or the artifact store did not answer: not the champion's
    fault, and promoting against the baseline on an outage would be wrong."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectionError | TimeoutError):
            raise error
        if any(marker in str(seen).lower() for marker in _UNREACHABLE_MARKERS):
            raise error
        seen = seen.__cause__ or seen.__context__


def _brief(error: Exception) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:500]


def conclude(
    candidate: CandidateRecord,
    comparison: Comparison,
    identity: DataIdentity,
    dry_run: bool,
) -> Decision:
    """Record the verdict on the candidate version and, when it won, make it champion."""
    verdict = comparison.verdict
    before = comparison.champion_version_before
    promoted = False
    after = before
    if not dry_run and candidate.version is not None:
        client = mlflow_client()
        if verdict.promote:
            promote_version(client, candidate.kind, candidate.version, expected_champion=before)
            promoted = True
            after = candidate.version
    decision = Decision(
        model=registered_model_name(candidate.kind),
        candidate_version=candidate.version,
        champion_version_before=before,
        champion_version_after=after,
        promoted=promoted,
        metric=verdict.metric,
        candidate_score=verdict.candidate_score,
        champion_score=verdict.champion_score,
        reason=verdict.reason if not dry_run else f"dry run, nothing registered: {verdict.reason}",
        champion_status=comparison.champion_status,
        judged_against=verdict.reference,
        candidate_target=candidate.target,
        champion_target=comparison.champion_target,
        absolute_margin=verdict.absolute_margin,
        relative_margin=verdict.relative_margin,
        required_absolute_margin=verdict.required_absolute_margin,
        required_relative_margin=verdict.required_relative_margin,
        guardrails=[check.model_dump() for check in verdict.guardrails],
        forced=verdict.forced,
        dry_run=dry_run,
        data=identity,
        mlflow_run_id=candidate.run_id,
        candidate_metrics=candidate.metrics,
        baseline_metrics=candidate.baseline,
        decided_at=datetime.now(UTC),
    )
    if not dry_run and candidate.version is not None:
        set_version_tags(
            mlflow_client(), candidate.kind, candidate.version, decision_tags(decision)
        )
    # After the decision is recorded: a report failure is logged, never undoes the decision.
    record_retraining_report(decision, comparison.champion_metrics)
    return decision


def decision_tags(decision: Decision) -> dict[str, str]:
    """The decision as flat version tags (the registry keeps the record)."""
    flat = {
        "promoted": str(decision.promoted).lower(),
        "forced": str(decision.forced).lower(),
        "reason": decision.reason[:4000],
        "champion_status": decision.champion_status,
        "judged_against": decision.judged_against,
        "metric": decision.metric,
        "candidate_score": _tag_number(decision.candidate_score),
        "champion_score": _tag_number(decision.champion_score),
        "absolute_margin": _tag_number(decision.absolute_margin),
        "relative_margin": _tag_number(decision.relative_margin),
        "champion_version_before": decision.champion_version_before or "",
        "champion_version_after": decision.champion_version_after or "",
        "decided_at": decision.decided_at.isoformat(),
    }
    tags = {f"{DECISION_TAG_PREFIX}{k}": v for k, v in flat.items()}
    tags.update(decision.data.as_tags())
    return tags


def _tag_number(value: float | None) -> str:
    return "" if value is None else repr(value)
