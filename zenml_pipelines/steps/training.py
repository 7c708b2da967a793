"""Training stage: out-of-time datasets, fit, evaluate against the naive baseline."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from zenml import step

from mingo.models import api as models
from mingo.retraining import stages
from mingo.retraining.decision import DataIdentity
from mingo.retraining.runner import RetrainingPlan
from zenml_pipelines.materializers import DatasetMaterializer, TrainedModelMaterializer


@step(output_materializers={"train_set": DatasetMaterializer, "holdout": DatasetMaterializer})
def build_datasets(
    purchases: pd.DataFrame, plan: RetrainingPlan
) -> tuple[
    Annotated[models.Dataset, "train_set"],
    Annotated[models.Dataset, "holdout"],
    Annotated[DataIdentity, "data_identity"],
]:
    train, holdout = models.build_datasets(purchases, plan.config.model_config_for_training())
    identity = stages.identify_data(plan.data_uri, purchases, cutoff=holdout.cutoff)
    return train, holdout, identity


@step(output_materializers=TrainedModelMaterializer)
def train_model(
    train: models.Dataset, plan: RetrainingPlan
) -> Annotated[models.TrainedModel, "candidate_model"]:
    return models.fit(train, plan.config.model_config_for_training())


@step
def evaluate_model(
    trained: models.TrainedModel,
    train: models.Dataset,
    holdout: models.Dataset,
    plan: RetrainingPlan,
) -> tuple[
    Annotated[dict[str, float], "candidate_metrics"],
    Annotated[dict[str, float], "baseline_metrics"],
]:
    # A literal tuple: ZenML reads the return statement to see two outputs.
    metrics, baseline = stages.evaluate(
        trained, train, holdout, plan.config.model_config_for_training()
    )
    return metrics, baseline
