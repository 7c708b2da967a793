"""How the retraining pipeline's step outputs are stored in ZenML's artifact store.

Purchase frames go to snappy Parquet (ZenML's default pandas materializer gzips, which
costs tens of seconds on the full 1.74M-order file). Datasets keep their customer index.
Trained models are stored with skops, the same safe format MLflow uses for them, so an
artifact never needs pickle to be read back.
"""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any, ClassVar

import pandas as pd
from zenml.enums import ArtifactType
from zenml.materializers.base_materializer import BaseMaterializer

from mingo.models.api import SKOPS_TRUSTED_TYPES, Dataset, TrainedModel

FRAME_FILE = "frame.parquet"
FEATURES_FILE = "features.parquet"
LABELS_FILE = "labels.parquet"
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
    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (Dataset,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA

    def _write_frame(self, frame: pd.DataFrame, name: str) -> None:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, compression="snappy")
        with self.artifact_store.open(f"{self.uri}/{name}", "wb") as handle:
            handle.write(buffer.getvalue())

    def _read_frame(self, name: str) -> pd.DataFrame:
        with self.artifact_store.open(f"{self.uri}/{name}", "rb") as handle:
            return pd.read_parquet(io.BytesIO(handle.read()))

    def load(self, data_type: type[Any]) -> Dataset:
        with self.artifact_store.open(f"{self.uri}/{META_FILE}", "r") as handle:
            meta = json.loads(handle.read())
        labels: pd.Series | None = None
        if meta["has_labels"]:
            labels = self._read_frame(LABELS_FILE)[LABEL_COLUMN].rename(meta["labels_name"])
        return Dataset(
            features=self._read_frame(FEATURES_FILE),
            labels=labels,
            cutoff=date.fromisoformat(meta["cutoff"]),
        )

    def save(self, data: Dataset) -> None:
        self._write_frame(data.features, FEATURES_FILE)
        if data.labels is not None:
            self._write_frame(data.labels.to_frame(LABEL_COLUMN), LABELS_FILE)
        meta = {
            "cutoff": data.cutoff.isoformat(),
            "has_labels": data.labels is not None,
            "labels_name": None if data.labels is None else data.labels.name,
        }
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
