"""The retraining pipeline, one definition parameterised by KIND."""

from __future__ import annotations

from zenml import pipeline
from zenml.enums import ExecutionMode

from mingo.retraining import RetrainingConfig
from zenml_pipelines.steps.data import load_purchases, validate_purchases
from zenml_pipelines.steps.registry import (
    compare_with_champion,
    promote_or_reject,
    register_candidate,
)
from zenml_pipelines.steps.training import build_datasets, evaluate_model, train_model


# Never cached: the data behind a URI changes, and a retraining must always retrain.
# FAIL_FAST re-raises the failing step's own exception, so the caller sees its message.
@pipeline(enable_cache=False, execution_mode=ExecutionMode.FAIL_FAST)
def retraining_pipeline(
    config: RetrainingConfig, data_uri: str, dry_run: bool, force_promote: bool
) -> None:
    raw = load_purchases(data_uri)
    purchases = validate_purchases(raw)
    train, holdout, identity = build_datasets(purchases, config, data_uri)
    trained = train_model(train, config)
    metrics, baseline = evaluate_model(trained, train, holdout, config)
    candidate = register_candidate(trained, holdout, metrics, baseline, identity, config, dry_run)
    comparison = compare_with_champion(candidate, holdout, config, force_promote)
    promote_or_reject(candidate, comparison, identity, dry_run)
