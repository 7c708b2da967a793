"""The monitor's result: the monitor JSON, the MLflow run's `monitor_result.json`, the
input of the report (apart from `monitor`, so the report needs no part of the monitor)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field


class VersionMonitor(BaseModel):
    """One version seen in the prediction log: its holdout score and its live numbers."""

    version: str
    holdout_score: float | None
    window_days: int
    outcomes: int
    live_metrics: dict[str, float]


class MonitorResult(BaseModel):
    """The monitor JSON (last stdout line of `mingo monitor`, `monitor_result.json` on the run)."""

    model: str
    served_version: str
    metric: str
    holdout_score: float | None
    live_score: float | None
    outcomes: int
    tolerance: float
    drift: dict[str, float]
    prediction_drift: float | None
    drift_threshold: float
    retrain_needed: bool
    reason: str
    report: str | None = None
    prometheus: str | None = None
    as_of: date
    min_outcomes: int
    request_id: str | None = None
    mlflow_run_id: str | None = None
    live_metrics: dict[str, float] = Field(default_factory=dict)
    versions: dict[str, VersionMonitor] = Field(default_factory=dict)
    weekly: list[dict[str, Any]] = Field(
        default_factory=list,
        description="One row per (model_version, week): outcomes and the live metrics.",
    )
    drift_requests: int = 0
