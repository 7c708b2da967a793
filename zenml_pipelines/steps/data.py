"""Data stage: load the purchases (local or s3://) and validate them.

Loading already rejects a file the validator cannot accept (its message names the column,
the rows and the rule); validation then drops the rows its DROP rules remove and records
how many, per rule, on the step.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from zenml import log_metadata, step

from mingo.retraining import stages
from zenml_pipelines.environment import step_settings
from zenml_pipelines.materializers import PurchasesFrameMaterializer


@step(output_materializers=PurchasesFrameMaterializer)
def load_purchases(data_uri: str) -> Annotated[pd.DataFrame, "raw_purchases"]:
    return stages.load_purchases(data_uri, step_settings())


@step(output_materializers=PurchasesFrameMaterializer)
def validate_purchases(raw: pd.DataFrame) -> Annotated[pd.DataFrame, "purchases"]:
    cleaned, summary = stages.validate_purchases(raw)
    log_metadata(metadata={"validation": dict(summary)})
    return cleaned
