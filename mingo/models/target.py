"""What a model predicts, recorded on the model so two models can be told comparable or not.

A champion and a candidate are judged on the same holdout only when they answer the same
question: the same KIND, the same label window (binary: "buys within H days"; multiclass:
"the first route in the next W days"; clustering: the cutoff step H) and, for multiclass,
the same candidate policy (which routes can be named). A `--horizon 7` candidate against a
30-day champion is a different target: comparing their scores would let a changed definition
win silently.

The feature schema version says which feature code a model needs. It is part of the record
but not of comparability: a champion whose feature schema this code no longer computes asks
the same question, it just cannot be re-scored (the retraining treats it as unscorable and
judges the candidate against the naive baseline instead).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from mingo import ModelKind
from mingo.models.base import TrainedModel

# Bump the KIND's number whenever its feature columns or their meaning change: a champion
# trained on another version is then unscorable, never silently mis-scored. Models logged
# before versions were recorded carry none and count as version 1.
FEATURE_SCHEMA_VERSIONS: dict[str, int] = {"binary": 1, "multiclass": 2, "clustering": 1}
UNRECORDED_FEATURE_SCHEMA_VERSION = 1
FEATURE_SCHEMA_KEY = "feature_schema_version"

# The one meaning of `--horizon` (CLI, DAG trigger form) per KIND.
LABEL_WINDOW_FIELDS: dict[str, str] = {
    "binary": "horizon_days",
    "multiclass": "route_window_days",
    "clustering": "horizon_days",
}


def label_window_field(kind: ModelKind) -> str:
    """The `ModelConfig` field that `--horizon` sets for KIND."""
    return LABEL_WINDOW_FIELDS[kind]


class TargetDefinition(BaseModel):
    """The question a model answers and the feature code it needs (recorded on its version)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    label_window_days: int
    candidate_policy: str | None
    feature_schema_version: int

    def differences(self, other: TargetDefinition) -> list[str]:
        """What makes `self` answer another question than `other` ([] when comparable)."""
        fields = ("kind", "label_window_days", "candidate_policy")
        return [
            f"{name} {getattr(self, name)} vs champion's {getattr(other, name)}"
            for name in fields
            if getattr(self, name) != getattr(other, name)
        ]

    def as_tags(self, prefix: str) -> dict[str, str]:
        return {f"{prefix}{k}": "" if v is None else str(v) for k, v in self.model_dump().items()}


def stamp_feature_schema(trained: TrainedModel) -> TrainedModel:
    """Record the feature schema of the code that trained `trained` in its metadata."""
    trained.metadata[FEATURE_SCHEMA_KEY] = FEATURE_SCHEMA_VERSIONS[trained.kind]
    return trained


def target_of(model: TrainedModel) -> TargetDefinition:
    """The target definition read from a model's metadata (as logged with it)."""
    metadata: dict[str, Any] = model.metadata
    kind = str(metadata.get("kind", model.kind))
    window = metadata.get(LABEL_WINDOW_FIELDS.get(kind, "horizon_days"))
    if window is None:
        raise ValueError(f"the {kind} model's metadata records no label window")
    policy = metadata.get("candidate_policy")
    return TargetDefinition(
        kind=kind,
        label_window_days=int(window),
        candidate_policy=None if policy is None else str(policy),
        feature_schema_version=int(
            metadata.get(FEATURE_SCHEMA_KEY, UNRECORDED_FEATURE_SCHEMA_VERSION)
        ),
    )


def current_feature_schema(kind: str) -> int:
    return FEATURE_SCHEMA_VERSIONS[kind]
