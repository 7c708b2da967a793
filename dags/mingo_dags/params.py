"""The trigger forms of the DAGs: typed, validated (JSON schema) and described.

Each retraining Param carries the name and the bounds of the
`mingo.retraining.request.RetrainRequest` field it sets, and each monitoring Param the name
of the `mingo monitor` option (the scheduler parses this without the mingo package, so they
are copies: tests/dags/test_pinned_to_mingo.py pins them to mingo's).
"""

from __future__ import annotations

import os

from airflow.sdk import Param

from mingo_dags.config import MonitorDagConfig

FALLBACK_DATA_URI = "s3://mingo-data/clickbus/df_t.csv"
# s3://bucket/key or a local path, ending in .csv or .parquet (what `mingo data` reads).
DATA_URI_PATTERN = r"^(s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/[^\s]+|[^:\s][^:]*)\.(csv|parquet)$"
HORIZON_CHOICES = [7, 30]
MARGIN_MINIMUM = 0.0
MARGIN_MAXIMUM = 1.0
# mingo.retraining.request.TRIGGER_REASON_MAX_CHARS: the longest reason a version records.
TRIGGER_REASON_MAX_CHARS = 4000


def data_uri_param(what: str) -> Param:
    """The purchases file a run reads (`what`: what the run does with it)."""
    return Param(
        os.environ.get("MINGO_DATA_URI") or FALLBACK_DATA_URI,
        type="string",
        pattern=DATA_URI_PATTERN,
        title="Purchases file",
        description=f"ClickBus purchases to {what}: s3://bucket/key or a local path, "
        ".csv or .parquet. Default: MINGO_DATA_URI of the scheduler.",
    )


def as_of_param(description: str) -> Param:
    return Param(
        None, type=["null", "string"], format="date", title="As of", description=description
    )


def retrain_params(kind: str) -> dict[str, Param]:
    """Params of KIND's DAG; defaults make a scheduled run a plain retraining."""
    params: dict[str, Param] = {
        "data_uri": data_uri_param("train on"),
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
        # null, not "": the UI's trigger form counts an empty string field as missing and
        # keeps its Trigger button disabled.
        "trigger_reason": Param(
            None,
            type=["null", "string"],
            maxLength=TRIGGER_REASON_MAX_CHARS,
            title="Trigger reason",
            description="Why this run was started; set by the monitor (mingo_monitor_"
            f"{kind}) when it triggers a retraining. Recorded in the decision and on the "
            "version (mingo.decision.trigger_reason). Empty = a scheduled or manual run.",
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


def monitor_params(kind: str, monitor: MonitorDagConfig) -> dict[str, Param]:
    """Params of KIND's monitoring DAG: defaults from the `monitor:` block of the YAML."""
    return {
        "data_uri": data_uri_param("join the predictions with (and to retrain on, if needed)"),
        "as_of": as_of_param(
            "YYYY-MM-DD: the monitor's as-of date. Empty = the last purchase date in the data."
        ),
        "tolerance": Param(
            monitor.tolerance,
            type="number",
            minimum=0.0,
            maximum=1.0,
            title="Tolerance",
            description="Retrain when the served version's live gate metric falls below its "
            "holdout score by more than this.",
        ),
        "drift_threshold": Param(
            monitor.drift_threshold,
            type="number",
            exclusiveMinimum=0.0,
            title="Drift threshold (PSI)",
            description="Retrain when a feature's PSI (training snapshot vs recent requests) "
            "or the prediction drift passes this.",
        ),
        "min_outcomes": Param(
            monitor.min_outcomes,
            type="integer",
            minimum=1,
            title="Minimum outcomes",
            description=f"Joined outcomes needed before the live metric of mingo-{kind} can "
            "trigger a retraining (drift needs none).",
        ),
    }


def score_params(kind: str) -> dict[str, Param]:
    """Params of KIND's batch-scoring DAG."""
    return {
        "data_uri": data_uri_param("score"),
        "as_of": as_of_param(
            "YYYY-MM-DD: score every customer as of this date. Empty = the run's date (ds)."
        ),
        "version": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Model version",
            description=f"Score with this version of mingo-{kind}. Empty = the champion "
            "(the version used is in the output either way).",
        ),
    }
