"""Registry stage: register the candidate, judge it against the champion, promote or reject.

The ZenML Model `mingo-<kind>` gets one version per retraining; its metadata carries the
MLflow registered model and version, and it is set to the production stage when the
candidate becomes champion, so ZenML's lineage and MLflow's registry point at each other.
"""

from __future__ import annotations

from typing import Annotated

from zenml import get_step_context, step
from zenml.enums import ModelStages

from mingo import retraining
from mingo.models import api as models


@step
def register_candidate(
    trained: models.TrainedModel,
    holdout: models.Dataset,
    metrics: dict[str, float],
    baseline: dict[str, float],
    identity: retraining.DataIdentity,
    config: retraining.RetrainingConfig,
    dry_run: bool,
) -> Annotated[retraining.CandidateRecord, "candidate"]:
    record = retraining.register(
        trained,
        holdout,
        config.model_config_for_training(),
        metrics,
        baseline,
        identity,
        dry_run=dry_run,
    )
    zenml_model = get_step_context().model
    if zenml_model is not None:
        zenml_model.log_metadata(
            {
                "mlflow_registered_model": f"mingo-{record.kind}",
                "mlflow_version": record.version or "",
                "mlflow_run_id": record.run_id or "",
                "dry_run": dry_run,
                "data_sha256": identity.sha256,
            }
        )
    return record


@step
def compare_with_champion(
    candidate: retraining.CandidateRecord,
    holdout: models.Dataset,
    config: retraining.RetrainingConfig,
    force_promote: bool,
) -> Annotated[retraining.Comparison, "comparison"]:
    return retraining.compare(candidate, holdout, config.policy(), force=force_promote)


@step
def promote_or_reject(
    candidate: retraining.CandidateRecord,
    comparison: retraining.Comparison,
    identity: retraining.DataIdentity,
    dry_run: bool,
) -> Annotated[retraining.Decision, "decision"]:
    decision = retraining.conclude(candidate, comparison, identity, dry_run=dry_run)
    zenml_model = get_step_context().model
    if zenml_model is not None:
        zenml_model.log_metadata({"promoted": decision.promoted, "reason": decision.reason[:1000]})
        if decision.promoted:
            zenml_model.set_stage(ModelStages.PRODUCTION, force=True)
    return decision
