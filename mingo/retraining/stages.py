"""The stages of one retraining, as plain functions a runner calls in order.

load -> validate -> datasets -> train -> evaluate -> register -> compare -> conclude.
Every function here runs without an orchestrator (a runner only passes outputs along), so
the logic is tested directly and a ZenML step stays a few lines.

A retraining never touches `champion` unless the candidate was registered, re-judged
against the champion re-scored on the same holdout, and won (or was forced). Failures raise
before the promotion stage, leaving the registry as it was (a registered but unpromoted
candidate only carries `challenger`).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from mingo import registered_model_name
from mingo.config import Settings, redacted
from mingo.models import api as models
from mingo.models.plots import figures
from mingo.models.target import target_of
from mingo.promotion import PromotionPolicy, judge, promote_version, refuse_incomparable
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
from mingo.retraining.decision import (
    CandidateRecord,
    Comparison,
    DataIdentity,
    Decision,
    decision_tags,
)
from mingo.retraining.request import RetrainRequest
from mingo.tags import TARGET_TAG_PREFIX
from mingo.tracking import ensure_experiment, mlflow_client

# -- load and validate -------------------------------------------------------------------


def load_purchases(uri: str, settings: Settings) -> pd.DataFrame:
    """Read the purchases at URI (local path or s3://) into a canonical frame."""
    from mingo.data import load_purchases as load

    return load(uri, settings.data_s3)


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


# -- register ----------------------------------------------------------------------------


def register(
    trained: models.TrainedModel,
    holdout: models.Dataset,
    config: models.ModelConfig,
    metrics: dict[str, float],
    baseline: dict[str, float],
    identity: DataIdentity,
    dry_run: bool,
    settings: Settings,
) -> CandidateRecord:
    """Log the run and register the candidate as `challenger` (nothing at all on a dry run)."""
    kind = trained.kind
    target = target_of(trained)
    if dry_run:
        return CandidateRecord(
            kind=kind,
            run_id=None,
            model_uri=None,
            version=None,
            metrics=metrics,
            baseline=baseline,
            target=target,
        )
    experiment_id = ensure_experiment(kind, settings)
    params: dict[str, Any] = {**config.model_dump(mode="json"), "data_uri": identity.uri}
    logged: LoggedCandidate = log_candidate(
        experiment_id=experiment_id,
        trained=trained,
        holdout=holdout,
        params=params,
        metrics=metrics,
        baseline=baseline,
        dataset_tags=identity.as_tags(),
        figures=figures(trained, holdout),
    )
    tags = {**identity.as_tags(), **target.as_tags(TARGET_TAG_PREFIX)}
    try:
        version = register_candidate(mlflow_client(settings), kind, logged, tags)
    except Exception as error:
        raise RuntimeError(
            f"registering the candidate of {registered_model_name(kind)} failed "
            f"(MLflow at {redacted(settings.mlflow_tracking_uri)}): {error}"
        ) from error
    return CandidateRecord(
        kind=kind,
        run_id=logged.run_id,
        model_uri=logged.model_uri,
        version=version,
        metrics=metrics,
        baseline=baseline,
        target=target,
    )


# -- compare and conclude ----------------------------------------------------------------


def compare(
    candidate: CandidateRecord,
    holdout: models.Dataset,
    policy: PromotionPolicy,
    force: bool,
    settings: Settings,
) -> Comparison:
    """Judge the candidate against the champion RE-SCORED on the same holdout.

    A champion that answers another question (target definition) is not compared: the
    candidate is not promoted unless forced. A champion that cannot be loaded or scored does
    not block retraining forever: the candidate is judged against the naive baseline on the
    same holdout instead (margin and guardrails alike). A registry or store that cannot be
    reached is neither: it raises, so the run fails (retryable) with the champion untouched.
    """
    client = mlflow_client(settings)
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
        problem = f"version {version} cannot be loaded: {_brief(error)}"
        return _against_baseline(candidate, version, None, problem, policy, force)
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
    champion_target: Any,
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
                # the baseline metrics and the improvement.
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
    request: RetrainRequest,
    settings: Settings,
) -> Decision:
    """Record the verdict on the candidate version and, when it won, make it champion."""
    verdict = comparison.verdict
    before = comparison.champion_version_before
    promoted = False
    after = before
    recorded = not request.dry_run and candidate.version is not None
    if recorded and verdict.promote:
        assert candidate.version is not None
        promote_version(
            mlflow_client(settings), candidate.kind, candidate.version, expected_champion=before
        )
        promoted = True
        after = candidate.version
    reason = verdict.reason
    decision = Decision(
        model=registered_model_name(candidate.kind),
        candidate_version=candidate.version,
        champion_version_before=before,
        champion_version_after=after,
        promoted=promoted,
        metric=verdict.metric,
        candidate_score=verdict.candidate_score,
        champion_score=verdict.champion_score,
        reason=f"dry run, nothing registered: {reason}" if request.dry_run else reason,
        champion_status=comparison.champion_status,
        judged_against=verdict.reference,
        candidate_target=candidate.target,
        champion_target=comparison.champion_target,
        absolute_improvement=verdict.absolute_improvement,
        relative_improvement=verdict.relative_improvement,
        min_absolute_margin=verdict.min_absolute_margin,
        min_relative_margin=verdict.min_relative_margin,
        guardrails=[check.model_dump() for check in verdict.guardrails],
        forced=verdict.forced,
        dry_run=request.dry_run,
        trigger_reason=request.trigger_reason,
        request=request,
        data=identity,
        mlflow_run_id=candidate.run_id,
        candidate_metrics=candidate.metrics,
        baseline_metrics=candidate.baseline,
        decided_at=datetime.now(UTC),
    )
    if recorded:
        assert candidate.version is not None
        set_version_tags(
            mlflow_client(settings), candidate.kind, candidate.version, decision_tags(decision)
        )
    # After the decision is recorded: a report failure is logged, never undoes the decision.
    record_retraining_report(decision, comparison.champion_metrics, settings)
    return decision
