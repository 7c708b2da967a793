"""The pipeline config of one KIND: what to train and when to promote (YAML in `configs/`).

The shipped YAMLs are the one owner of the defaults (training knobs, promotion metric,
margins, guardrails); a `--config` file replaces them whole. A `RetrainRequest` then applies
the per-run choices on top (`apply_request`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mingo import ModelKind
from mingo.models.base import ModelConfig
from mingo.models.target import label_window_field
from mingo.promotion import PromotionPolicy
from mingo.retraining.request import RetrainRequest

SHIPPED_CONFIGS = Path(__file__).resolve().parent / "configs"


class RetrainingConfig(BaseModel):
    """One retraining: what data, how to train, when to promote."""

    model_config = ConfigDict(extra="forbid")

    kind: ModelKind
    data_uri: str | None = None
    training: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields of mingo.models.ModelConfig (cutoff, horizon_days, ...), KIND aside.",
    )
    promotion: PromotionPolicy

    @model_validator(mode="after")
    def _training_fits_model_config(self) -> RetrainingConfig:
        # Validate here so a wrong training key fails when the YAML is read, naming it.
        try:
            self.model_config_for_training()
        except ValidationError as error:
            problems = "; ".join(
                f"training.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
            )
            raise ValueError(problems) from None
        return self

    def model_config_for_training(self) -> ModelConfig:
        return ModelConfig(kind=self.kind, **self.training)


def shipped_config_path(kind: str) -> Path:
    return SHIPPED_CONFIGS / f"{kind}.yaml"


def read_retraining_config(path: Path) -> RetrainingConfig:
    """Parse a pipeline YAML; a wrong key or value names the field and the file."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read pipeline config {path}: {error}") from error
    try:
        return RetrainingConfig.model_validate(raw)
    except ValidationError as error:
        raise ValueError(f"invalid pipeline config {path}:\n{error}") from error


def load_retraining_config(kind: ModelKind, path: Path | None = None) -> RetrainingConfig:
    """The YAML given, else the shipped one for KIND; its `kind` must match KIND."""
    chosen = path or shipped_config_path(kind)
    config = read_retraining_config(chosen)
    if config.kind != kind:
        raise ValueError(f"pipeline config {chosen} is for kind {config.kind!r}, not {kind!r}")
    return config


def shipped_policy(kind: ModelKind) -> PromotionPolicy:
    """The promotion policy of the shipped config of KIND."""
    return load_retraining_config(kind).promotion


def apply_request(config: RetrainingConfig, request: RetrainRequest) -> RetrainingConfig:
    """The config with the request's choices on top (validated again as a whole)."""
    training = dict(config.training)
    if request.cutoff is not None:
        training["cutoff"] = request.cutoff
    if request.horizon_days is not None:
        training[label_window_field(config.kind)] = request.horizon_days
    promotion = config.promotion
    if request.min_absolute_margin is not None:
        # One number from the operator: exactly that number decides, the relative rule is off.
        promotion = promotion.model_copy(
            update={"min_absolute_margin": request.min_absolute_margin, "min_relative_margin": None}
        )
    return RetrainingConfig.model_validate(
        {
            **config.model_dump(),
            "data_uri": request.data_uri or config.data_uri,
            "training": training,
            "promotion": promotion.model_dump(),
        }
    )
