"""Training stage: out-of-time datasets, fit, evaluate against the naive baseline."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from zenml import step

from mingo import retraining
from mingo.models import api as models
from zenml_pipelines.materializers import DatasetMaterializer, TrainedModelMaterializer


@step(output_materializers={"train_set": DatasetMaterializer, "holdout": DatasetMaterializer})
def build_datasets(
    purchases: pd.DataFrame, config: retraining.RetrainingConfig, data_uri: str
) -> tuple[
    Annotated[models.Dataset, "train_set"],
    Annotated[models.Dataset, "holdout"],
    Annotated[retraining.DataIdentity, "data_identity"],
]:
    train, holdout = models.build_datasets(purchases, config.model_config_for_training())
    identity = retraining.identify_data(data_uri, purchases, cutoff=holdout.cutoff)
    return train, holdout, identity


@step(output_materializers=TrainedModelMaterializer)
def train_model(
    train: models.Dataset, config: retraining.RetrainingConfig
) -> Annotated[models.TrainedModel, "candidate_model"]:
    return models.fit(train, config.model_config_for_training())


@step
def evaluate_model(
    trained: models.TrainedModel,
    train: models.Dataset,
    holdout: models.Dataset,
    config: retraining.RetrainingConfig,
) -> tuple[
    Annotated[dict[str, float], "candidate_metrics"],
    Annotated[dict[str, float], "baseline_metrics"],
]:
    # A literal tuple: ZenML reads the return statement to see two outputs.
    metrics, baseline = retraining.evaluate(
        trained, train, holdout, config.model_config_for_training()
    )
    return metrics, baseline
