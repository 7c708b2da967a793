"""The trigger form of a retraining DAG: typed, validated (JSON schema) and described.

Each Param carries the name and the bounds of the `mingo.retraining.request.RetrainRequest`
field it sets (the scheduler parses this without the mingo package, so they are copies:
tests/dags/test_pinned_to_mingo.py pins them to the model's).
"""

from __future__ import annotations

import os

from airflow.sdk import Param

FALLBACK_DATA_URI = "s3://mingo-data/clickbus/df_t.csv"
# s3://bucket/key or a local path, ending in .csv or .parquet (what `mingo data` reads).
DATA_URI_PATTERN = r"^(s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/[^\s]+|[^:\s][^:]*)\.(csv|parquet)$"
HORIZON_CHOICES = [7, 30]
MARGIN_MINIMUM = 0.0
MARGIN_MAXIMUM = 1.0


def retrain_params(kind: str) -> dict[str, Param]:
    """Params of KIND's DAG; defaults make a scheduled run a plain retraining."""
    params: dict[str, Param] = {
        "data_uri": Param(
            os.environ.get("MINGO_DATA_URI") or FALLBACK_DATA_URI,
            type="string",
            pattern=DATA_URI_PATTERN,
            title="Purchases file",
            description="ClickBus purchases to train on: s3://bucket/key or a local path, "
            ".csv or .parquet. Default: MINGO_DATA_URI of the scheduler.",
        ),
        "cutoff": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Holdout cutoff",
            description="YYYY-MM-DD: features as of this date, labels after it. Empty = the "
            "last purchase date minus the horizon.",
        ),
        "force_promote": Param(
            False,
            type="boolean",
            title="Force promotion",
            description="Promote the candidate even if it does not beat the champion by the "
            "margin (the decision records that it was forced).",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Train and compare only: register, promote and redeploy nothing.",
        ),
        "min_absolute_margin": Param(
            None,
            type=["null", "number"],
            minimum=MARGIN_MINIMUM,
            maximum=MARGIN_MAXIMUM,
            title="Promotion margin (absolute)",
            description="Smallest absolute gain on the promotion metric for the candidate to "
            "replace the champion; when set it is the only margin. Empty = the pipeline "
            "config's margins for this model.",
        ),
    }
    if kind == "binary":
        params["horizon_days"] = Param(
            30,
            type="integer",
            enum=HORIZON_CHOICES,
            title="Horizon (days)",
            description="Label window: will the customer buy within the next 7 or 30 days?",
        )
    return params
