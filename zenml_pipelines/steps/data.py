"""Data stage: load the purchases (local or s3://) and validate them."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from zenml import step

from mingo import retraining
from zenml_pipelines.materializers import PurchasesFrameMaterializer


@step(output_materializers=PurchasesFrameMaterializer)
def load_purchases(data_uri: str) -> Annotated[pd.DataFrame, "raw_purchases"]:
    return retraining.load_purchases(data_uri)


@step(output_materializers=PurchasesFrameMaterializer)
def validate_purchases(raw: pd.DataFrame) -> Annotated[pd.DataFrame, "purchases"]:
    return retraining.validate_purchases(raw)
