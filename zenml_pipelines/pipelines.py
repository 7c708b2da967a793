"""The retraining pipeline, one definition parameterised by the plan of a run."""

from __future__ import annotations

from zenml import pipeline
from zenml.enums import ExecutionMode

from mingo.retraining.runner import RetrainingPlan
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
def retraining_pipeline(plan: RetrainingPlan) -> None:
    raw = load_purchases(plan.data_uri)
    purchases = validate_purchases(raw)
    train, holdout, identity = build_datasets(purchases, plan)
    trained = train_model(train, plan)
    metrics, baseline = evaluate_model(trained, train, holdout, plan)
    candidate = register_candidate(trained, holdout, metrics, baseline, identity, plan)
    comparison = compare_with_champion(candidate, holdout, plan)
    promote_or_reject(candidate, comparison, identity, plan)
