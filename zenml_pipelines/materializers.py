"""How the retraining pipeline's step outputs are stored in ZenML's artifact store.

Purchase frames go to snappy Parquet (ZenML's default pandas materializer gzips, which
costs tens of seconds on the full 1.74M-order file). Datasets keep every field (customer
index, route vocabulary, history).
Trained models are stored with skops, the same safe format MLflow uses for them, so an
artifact never needs pickle to be read back.
"""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import date
from typing import Any, ClassVar

import pandas as pd
from zenml.enums import ArtifactType
from zenml.materializers.base_materializer import BaseMaterializer

from mingo.models.api import SKOPS_TRUSTED_TYPES, Dataset, TrainedModel

FRAME_FILE = "frame.parquet"
META_FILE = "meta.json"
ESTIMATOR_FILE = "estimator.skops"
LABEL_COLUMN = "label"


class PurchasesFrameMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (pd.DataFrame,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA

    def load(self, data_type: type[Any]) -> pd.DataFrame:
        with self.artifact_store.open(f"{self.uri}/{FRAME_FILE}", "rb") as handle:
            return pd.read_parquet(io.BytesIO(handle.read()))

    def save(self, data: pd.DataFrame) -> None:
        buffer = io.BytesIO()
        data.to_parquet(buffer, compression="snappy")
        with self.artifact_store.open(f"{self.uri}/{FRAME_FILE}", "wb") as handle:
            handle.write(buffer.getvalue())


class DatasetMaterializer(BaseMaterializer):
    """Every field of `Dataset`: frames and series as Parquet, the rest as JSON."""

    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (Dataset,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA

    def _write_frame(self, frame: pd.DataFrame, name: str) -> None:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, compression="snappy")
        with self.artifact_store.open(f"{self.uri}/{name}.parquet", "wb") as handle:
            handle.write(buffer.getvalue())

    def _read_frame(self, name: str) -> pd.DataFrame:
        with self.artifact_store.open(f"{self.uri}/{name}.parquet", "rb") as handle:
            return pd.read_parquet(io.BytesIO(handle.read()))

    def load(self, data_type: type[Any]) -> Dataset:
        with self.artifact_store.open(f"{self.uri}/{META_FILE}", "r") as handle:
            meta = json.loads(handle.read())
        values: dict[str, Any] = {}
        for name, entry in meta.items():
            stored = entry["stored_as"]
            if stored == "frame":
                values[name] = self._read_frame(name)
            elif stored == "series":
                values[name] = self._read_frame(name)[LABEL_COLUMN].rename(entry["series_name"])
            elif stored == "date":
                values[name] = date.fromisoformat(entry["value"])
            elif stored == "pairs":
                values[name] = [tuple(pair) for pair in entry["value"]]
            else:
                values[name] = entry["value"]
        return Dataset(**values)

    def save(self, data: Dataset) -> None:
        meta: dict[str, dict[str, Any]] = {}
        for field in dataclasses.fields(data):
            value = getattr(data, field.name)
            if isinstance(value, pd.DataFrame):
                self._write_frame(value, field.name)
                meta[field.name] = {"stored_as": "frame"}
            elif isinstance(value, pd.Series):
                self._write_frame(value.to_frame(LABEL_COLUMN), field.name)
                meta[field.name] = {"stored_as": "series", "series_name": value.name}
            elif isinstance(value, date):
                meta[field.name] = {"stored_as": "date", "value": value.isoformat()}
            elif isinstance(value, list) and value and isinstance(value[0], tuple):
                meta[field.name] = {"stored_as": "pairs", "value": [list(v) for v in value]}
            else:
                meta[field.name] = {"stored_as": "json", "value": value}
        with self.artifact_store.open(f"{self.uri}/{META_FILE}", "w") as handle:
            handle.write(json.dumps(meta))


class TrainedModelMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (TrainedModel,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.MODEL

    def load(self, data_type: type[Any]) -> TrainedModel:
        import skops.io

        with self.artifact_store.open(f"{self.uri}/{META_FILE}", "r") as handle:
            meta = json.loads(handle.read())
        with self.artifact_store.open(f"{self.uri}/{ESTIMATOR_FILE}", "rb") as handle:
            estimator = skops.io.loads(handle.read(), trusted=SKOPS_TRUSTED_TYPES or None)
        return TrainedModel(kind=meta["kind"], estimator=estimator, metadata=meta["metadata"])

    def save(self, data: TrainedModel) -> None:
        import skops.io

        with self.artifact_store.open(f"{self.uri}/{ESTIMATOR_FILE}", "wb") as handle:
            handle.write(skops.io.dumps(data.estimator))
        with self.artifact_store.open(f"{self.uri}/{META_FILE}", "w") as handle:
            handle.write(json.dumps({"kind": data.kind, "metadata": data.metadata}))
