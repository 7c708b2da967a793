"""The records of one retraining: the data it used, the candidate, the comparison, the decision.

`Decision` is what `mingo train` prints as its last stdout line and what `decision_tags`
writes on the candidate version (the registry keeps the record; `mingo.registry` reads it
back). Field names follow the request and the policy: `min_absolute_margin` is the margin
that applied, `absolute_improvement` what the candidate achieved.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from mingo import ModelKind
from mingo.models.target import TargetDefinition
from mingo.promotion import Reference, Verdict
from mingo.retraining.request import RetrainRequest
from mingo.tags import DATA_TAG_PREFIX, DECISION_TAG_PREFIX

# How the champion took part in the judgement: none yet; re-scored on the candidate's holdout;
# answering another question (horizon, window, candidate policy); or not loadable/scorable.
ChampionStatus = Literal["none", "scored", "not_comparable", "unscorable"]


class DataIdentity(BaseModel):
    """Which data a model was trained on: enough to tell two datasets apart."""

    uri: str
    rows: int
    sha256: str = Field(description="SHA-256 of the canonical (validated) frame's row hashes.")
    cutoff: date | None = Field(default=None, description="The holdout cutoff used.")

    def as_tags(self) -> dict[str, str]:
        return {
            f"{DATA_TAG_PREFIX}uri": self.uri,
            f"{DATA_TAG_PREFIX}rows": str(self.rows),
            f"{DATA_TAG_PREFIX}sha256": self.sha256,
            f"{DATA_TAG_PREFIX}cutoff": "" if self.cutoff is None else self.cutoff.isoformat(),
        }


class CandidateRecord(BaseModel):
    """Where a candidate lives in MLflow (no version on a dry run)."""

    kind: ModelKind
    run_id: str | None
    model_uri: str | None
    version: str | None
    metrics: dict[str, float]
    baseline: dict[str, float]
    target: TargetDefinition


class Comparison(BaseModel):
    """The verdict and the champion it was judged against."""

    champion_version_before: str | None
    champion_status: ChampionStatus
    champion_target: TargetDefinition | None = None
    verdict: Verdict
    champion_metrics: dict[str, float] | None = Field(
        default=None, description="The champion's metrics re-scored on the candidate's holdout."
    )


class Decision(BaseModel):
    """The decision JSON `mingo train` prints as its last line (CONTRACT.md keys first)."""

    model: str
    candidate_version: str | None
    champion_version_before: str | None
    champion_version_after: str | None
    promoted: bool
    metric: str
    candidate_score: float | None
    champion_score: float | None
    reason: str
    champion_status: ChampionStatus
    judged_against: Reference
    candidate_target: TargetDefinition
    champion_target: TargetDefinition | None
    absolute_improvement: float | None
    relative_improvement: float | None
    min_absolute_margin: float
    min_relative_margin: float | None
    guardrails: list[dict[str, Any]]
    forced: bool
    dry_run: bool
    trigger_reason: str = Field(
        default="", description="Why the run was started (the request's; empty = schedule/manual)."
    )
    request: RetrainRequest
    data: DataIdentity
    mlflow_run_id: str | None
    candidate_metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    decided_at: datetime


def decision_tags(decision: Decision) -> dict[str, str]:
    """The decision as flat version tags: the verdict, the request as applied, the data."""
    flat = {
        "promoted": str(decision.promoted).lower(),
        "forced": str(decision.forced).lower(),
        "reason": decision.reason[:4000],
        "champion_status": decision.champion_status,
        "judged_against": decision.judged_against,
        "metric": decision.metric,
        "candidate_score": _tag_number(decision.candidate_score),
        "champion_score": _tag_number(decision.champion_score),
        "absolute_improvement": _tag_number(decision.absolute_improvement),
        "relative_improvement": _tag_number(decision.relative_improvement),
        "min_absolute_margin": _tag_number(decision.min_absolute_margin),
        "min_relative_margin": _tag_number(decision.min_relative_margin),
        "champion_version_before": decision.champion_version_before or "",
        "champion_version_after": decision.champion_version_after or "",
        "decided_at": decision.decided_at.isoformat(),
        "trigger_reason": decision.trigger_reason,
    }
    tags = {f"{DECISION_TAG_PREFIX}{k}": v for k, v in flat.items()}
    tags.update(decision.request.as_tags())
    tags.update(decision.data.as_tags())
    return tags


def _tag_number(value: float | None) -> str:
    return "" if value is None else repr(value)
