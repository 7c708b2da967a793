"""One retraining as it is asked for: the same names from the trigger form to the decision.

`RetrainRequest` holds what a person or a schedule may choose per run: the Airflow trigger
form's Params, `mingo train`'s options and the fields recorded on the registered version carry
these names, so a value such as `min_absolute_margin` is one name from the form to the
decision. It is validated here, once; the DAG's form takes its bounds from this model.

Light on purpose (pydantic and the standard library only): the DAG files import it while the
scheduler parses them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from mingo import ModelKind
from mingo.tags import REQUEST_TAG_PREFIX

# A promotion margin is a share of the metric's range: contract metrics lie in [0, 1]
# (davies_bouldin aside, whose margins are small numbers too).
Margin = Annotated[float, Field(ge=0.0, le=1.0)]
# The longest trigger reason kept: it is recorded as version tags (MLflow caps a tag value at
# 5000 characters in its oldest supported stores).
TRIGGER_REASON_MAX_CHARS = 4000


class RetrainRequest(BaseModel):
    """What this run was asked to do; unset fields fall back to the pipeline config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ModelKind
    data_uri: str | None = Field(
        default=None,
        description="Purchases to train on (local path or s3://bucket/key); default: the "
        "pipeline config's data_uri, then MINGO_DATA_URI.",
    )
    cutoff: date | None = Field(
        default=None,
        description="Holdout cutoff; default: the last purchase date minus the label window.",
    )
    horizon_days: int | None = Field(
        default=None,
        ge=1,
        le=365,
        description="Label window in days (binary: buys within it; multiclass: the next route "
        "is the first in it; clustering: the cutoff step); default: the pipeline config's.",
    )
    min_absolute_margin: Margin | None = Field(
        default=None,
        description="Smallest absolute gain on the promotion metric for the candidate to "
        "replace the champion; when set it is the only margin (the relative one is off). "
        "Default: the pipeline config's margins.",
    )
    force_promote: bool = Field(
        default=False, description="Promote whatever the margin (recorded on the version)."
    )
    dry_run: bool = Field(
        default=False, description="Train and compare; register and promote nothing."
    )
    trigger_reason: str = Field(
        default="",
        max_length=TRIGGER_REASON_MAX_CHARS,
        description="Why this run was started, e.g. the monitor's reason for a retraining; "
        "empty = a scheduled or manual run.",
    )
    config_path: Path | None = Field(
        default=None, description="Pipeline YAML; default: the shipped one for KIND."
    )

    def as_tags(self) -> dict[str, str]:
        """Every field, as version tags (unset ones as empty strings)."""
        return {
            f"{REQUEST_TAG_PREFIX}{name}": "" if value is None else str(value)
            for name, value in self.model_dump(mode="json").items()
        }
