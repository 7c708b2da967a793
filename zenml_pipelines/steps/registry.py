"""Registry stage: register the candidate, judge it against the champion, promote or reject.

The ZenML Model `mingo-<kind>` gets one version per retraining; its metadata carries the
MLflow registered model and version, and it is set to the production stage when the
candidate becomes champion, so ZenML's lineage and MLflow's registry point at each other.
"""

from __future__ import annotations

from typing import Annotated

from zenml import get_step_context, step
from zenml.enums import ModelStages

from mingo import registered_model_name
from mingo.models import api as models
from mingo.retraining import stages
from mingo.retraining.decision import CandidateRecord, Comparison, DataIdentity, Decision
from mingo.retraining.runner import RetrainingPlan
from zenml_pipelines.environment import step_settings


@step
def register_candidate(
    trained: models.TrainedModel,
    holdout: models.Dataset,
    metrics: dict[str, float],
    baseline: dict[str, float],
    identity: DataIdentity,
    plan: RetrainingPlan,
) -> Annotated[CandidateRecord, "candidate"]:
    record = stages.register(
        trained,
        holdout,
        plan.config.model_config_for_training(),
        metrics,
        baseline,
        identity,
        dry_run=plan.request.dry_run,
        settings=step_settings(),
    )
    zenml_model = get_step_context().model
    if zenml_model is not None:
        zenml_model.log_metadata(
            {
                "mlflow_registered_model": registered_model_name(record.kind),
                "mlflow_version": record.version or "",
                "mlflow_run_id": record.run_id or "",
                "dry_run": plan.request.dry_run,
                "data_sha256": identity.sha256,
            }
        )
    return record


@step
def compare_with_champion(
    candidate: CandidateRecord, holdout: models.Dataset, plan: RetrainingPlan
) -> Annotated[Comparison, "comparison"]:
    return stages.compare(
        candidate,
        holdout,
        plan.config.promotion,
        force=plan.request.force_promote,
        settings=step_settings(),
    )


@step
def promote_or_reject(
    candidate: CandidateRecord,
    comparison: Comparison,
    identity: DataIdentity,
    plan: RetrainingPlan,
) -> Annotated[Decision, "decision"]:
    decision = stages.conclude(candidate, comparison, identity, plan.request, step_settings())
    zenml_model = get_step_context().model
    if zenml_model is not None:
        zenml_model.log_metadata({"promoted": decision.promoted, "reason": decision.reason[:1000]})
        if decision.promoted:
            zenml_model.set_stage(ModelStages.PRODUCTION, force=True)
    return decision
