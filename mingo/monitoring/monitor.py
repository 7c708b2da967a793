"""The monitor of one KIND: live metrics per served version, drift, and whether to retrain.

`run_monitor` joins the prediction log with the purchases (`outcomes`), computes the live
metrics under the gate's names per version and as-of week, input drift per feature and
prediction drift against the served version's reference (`drift`), decides (`decide`), logs
a run in the MLflow experiment `mingo-monitoring`, and writes the HTML report with a
Prometheus text file beside it (`report`).

The served version is the registry's `champion` (the source of truth for what is served);
its gate metric is the one its retraining was judged on (`mingo.decision.metric`, else the
shipped policy's), its holdout score that metric on its training run, its label window the
`mingo.target.label_window_days` tag. Binary counts the holdout's population only: customers
whose logged `recency_days` is at most the version's `active_within_days` (a run param).

Retrain needed when (a) the served version's live gate metric, over all its outcomes with a
closed window and at least `min_outcomes` of them, is worse than its holdout score by more
than `tolerance`; or (b) the largest feature PSI or the prediction PSI exceeds
`drift_threshold`. Drift compares the served version's logged requests of the last
`drift_window_days` (ending at its latest logged as-of date) with its reference, and is
judged only on at least `min_drift_rows` such requests.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from mingo import ModelKind, registered_model_name
from mingo.data import schema
from mingo.features.routes import route_key
from mingo.models.target import label_window_field
from mingo.monitoring import drift as drift_mod
from mingo.monitoring import outcomes as outcomes_mod
from mingo.monitoring.result import MonitorResult, VersionMonitor
from mingo.promotion import LOWER_IS_BETTER
from mingo.registry import CHAMPION, get_alias_version
from mingo.tags import DECISION_TAG_PREFIX, TARGET_TAG_PREFIX

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from mingo.config import Settings

DEFAULT_TOLERANCE = 0.05
DEFAULT_DRIFT_THRESHOLD = 0.25  # PSI: > 0.25 is the usual "major shift"
DEFAULT_MIN_OUTCOMES = 100
DEFAULT_DRIFT_WINDOW_DAYS = 28
DEFAULT_MIN_DRIFT_ROWS = 100

MONITORING_EXPERIMENT = "mingo-monitoring"
MODEL_TAG = "mingo.model"
VERSION_TAG = "mingo.monitor.model_version"
REQUEST_TAG = "mingo.monitor.request_id"
RETRAIN_TAG = "mingo.monitor.retrain_needed"
REASON_TAG = "mingo.monitor.reason"
RESULT_ARTIFACT = "monitor_result.json"
REPORT_ARTIFACT = "monitoring_report.html"
PROMETHEUS_ARTIFACT = "metrics.prom"
DRIFT_METRIC_PREFIX = "drift_psi_"
# MLflow tag values are capped (5000 characters on a server); the artifact has the full text.
MAX_TAG_CHARS = 4000
# Monday 1970-01-05: step n of a weekly metric is the n-th week since then, stable across runs.
WEEK_ZERO = date(1970, 1, 5)

logger = logging.getLogger(__name__)


class MonitorError(RuntimeError):
    """The monitor cannot run (no champion, a version without its recorded target, ...)."""


class MonitorConfig(BaseModel):
    """Thresholds of the retraining decision (per KIND in dags/mingo_retrain.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tolerance: float = Field(
        default=DEFAULT_TOLERANCE,
        ge=0.0,
        description="Largest drop of the live gate metric below the holdout score tolerated.",
    )
    drift_threshold: float = Field(
        default=DEFAULT_DRIFT_THRESHOLD, gt=0.0, description="PSI above which drift retrains."
    )
    min_outcomes: int = Field(
        default=DEFAULT_MIN_OUTCOMES,
        ge=1,
        description="Outcomes with a closed window needed before the live metric is judged.",
    )
    drift_window_days: int = Field(
        default=DEFAULT_DRIFT_WINDOW_DAYS, ge=1, description="Recent requests drift looks at."
    )
    min_drift_rows: int = Field(
        default=DEFAULT_MIN_DRIFT_ROWS, ge=1, description="Recent requests needed to judge drift."
    )


# -- the registry's view of a version ------------------------------------------------------


@dataclass(frozen=True)
class VersionRecord:
    version: str
    run_id: str | None
    metric: str
    holdout_score: float | None
    window_days: int
    # Binary: the population of the holdout (`ModelConfig.active_within_days`; None: all).
    active_within_days: int | None = None


def version_record(client: MlflowClient, kind: ModelKind, version: str) -> VersionRecord:
    """Gate metric, holdout score and label window of one registered version."""
    from mlflow.exceptions import MlflowException

    from mingo.retraining.config import load_retraining_config

    name = registered_model_name(kind)
    try:
        mv = client.get_model_version(name, version)
    except MlflowException as error:
        raise MonitorError(f"{name} has no version {version}: {error}") from error
    tags = dict(mv.tags)
    shipped = load_retraining_config(kind)
    metric = tags.get(f"{DECISION_TAG_PREFIX}metric") or shipped.promotion.metric
    window = tags.get(f"{TARGET_TAG_PREFIX}label_window_days")
    if not window:
        # Versions that predate the target tags: the shipped config's window.
        default = shipped.model_config_for_training()
        window = str(getattr(default, label_window_field(kind)))
    holdout = None
    active: str | None = None
    if mv.run_id:
        data = client.get_run(mv.run_id).data
        holdout = data.metrics.get(metric)
        active = data.params.get("active_within_days") if kind == "binary" else None
    return VersionRecord(
        version=str(version),
        run_id=mv.run_id,
        metric=metric,
        holdout_score=None if holdout is None else float(holdout),
        window_days=int(window),
        active_within_days=int(active) if active and active.isdigit() else None,
    )


# -- the decision --------------------------------------------------------------------------


def decide(
    metric: str,
    holdout_score: float | None,
    live_score: float | None,
    outcomes: int,
    feature_psi: dict[str, float],
    prediction_drift: float | None,
    config: MonitorConfig,
    served_version: str,
    drift_note: str | None = None,
) -> tuple[bool, str]:
    """(retrain needed, reason): which number crossed which threshold, or why none did."""
    triggers: list[str] = []
    checks: list[str] = []
    tol = config.tolerance
    if holdout_score is None:
        checks.append(f"version {served_version} has no holdout {metric}: live metric not judged")
    elif live_score is None or outcomes < config.min_outcomes:
        checks.append(
            f"live {metric} not judged: {outcomes} outcome(s) of version {served_version} "
            f"with a closed window (min {config.min_outcomes})"
        )
    else:
        lower = metric in LOWER_IS_BETTER
        bound = holdout_score + tol if lower else holdout_score - tol
        relation = ">" if lower else "<"
        sign = "+" if lower else "-"
        text = (
            f"live {metric} {live_score:.4f} {{}} holdout {holdout_score:.4f} {sign} tolerance "
            f"{tol} = {bound:.4f} on {outcomes} outcomes of version {served_version}"
        )
        # The rule as the reason states it: below (above, lower-is-better) the bound.
        if (live_score > bound) if lower else (live_score < bound):
            triggers.append(text.format(relation))
        else:
            checks.append(text.format("<=" if lower else ">="))
    threshold = config.drift_threshold
    if drift_note is not None:
        checks.append(drift_note)
    else:
        if feature_psi:
            feature = max(feature_psi, key=lambda f: feature_psi[f])
            value = feature_psi[feature]
            if value > threshold:
                triggers.append(f"input drift: PSI of {feature} {value:.3f} > {threshold}")
            else:
                checks.append(f"max feature PSI {value:.3f} ({feature}) <= {threshold}")
        else:
            checks.append("no feature shared by the reference and the logged requests")
        if prediction_drift is not None:
            if prediction_drift > threshold:
                triggers.append(f"prediction drift: PSI {prediction_drift:.3f} > {threshold}")
            else:
                checks.append(f"prediction PSI {prediction_drift:.3f} <= {threshold}")
    if triggers:
        return True, "retrain needed: " + "; ".join(triggers)
    return False, "no retrain: " + "; ".join(checks)


# -- the analysis --------------------------------------------------------------------------


def _prediction_value(kind: ModelKind, prediction: Any) -> Any:
    if not isinstance(prediction, dict):
        return None
    if kind == "binary":
        return float(prediction.get("probability", np.nan))
    if kind == "multiclass":
        routes = prediction.get("routes") or []
        if not routes:
            return ""
        return route_key(str(routes[0]["origin"]), str(routes[0]["destination"]))
    return str(prediction.get("segment"))


def _drift(
    kind: ModelKind,
    client: MlflowClient,
    served: VersionRecord,
    logged: pd.DataFrame,
    config: MonitorConfig,
) -> tuple[dict[str, float], float | None, str | None, int]:
    """(feature PSI, prediction PSI, why drift was not judged or None, requests compared)."""
    mine = logged.loc[logged["model_version"] == served.version]
    if mine.empty:
        return {}, None, f"drift not judged: no logged request of version {served.version}", 0
    end = max(mine["as_of"])
    start = end - timedelta(days=config.drift_window_days)
    recent = mine.loc[mine["as_of"] > start]
    if len(recent) < config.min_drift_rows:
        return (
            {},
            None,
            f"drift not judged: {len(recent)} logged request(s) of version {served.version} "
            f"in the {config.drift_window_days} days to {end} (min {config.min_drift_rows})",
            len(recent),
        )
    reference = drift_mod.load_reference_snapshot(client, served.run_id) if served.run_id else None
    if reference is None:
        return (
            {},
            None,
            f"drift not judged: version {served.version} has no monitoring reference "
            "(registered before references were logged)",
            len(recent),
        )
    ref_features, ref_prediction = reference
    current = outcomes_mod.logged_features(recent)
    feature_psi = drift_mod.feature_drift(ref_features, current)
    values = [_prediction_value(kind, p) for p in recent["prediction"]]
    if kind == "binary":
        prediction_psi = drift_mod.psi(ref_prediction.to_numpy(np.float64), np.array(values, float))
    else:
        prediction_psi = drift_mod.categorical_psi(ref_prediction.astype(str).to_numpy(), values)
    return feature_psi, prediction_psi, None, len(recent)


def _nan_free(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
    }


def analyse(
    kind: ModelKind,
    purchases: pd.DataFrame,
    predictions: pd.DataFrame,
    client: MlflowClient,
    config: MonitorConfig,
    as_of: date | None = None,
) -> MonitorResult:
    """Everything but the side effects: the monitor's numbers and decision, no run, no file.

    `as_of` is the monitor's today: purchases after it have not arrived and predictions made
    after it are ignored (default: the data's last purchase date).
    """
    from mingo.models import datasets

    _, last = datasets.date_range_of(purchases)
    today = as_of or last
    known = purchases.loc[purchases[schema.DATE].dt.date <= today]
    logged = outcomes_mod.normalize_predictions(predictions)
    logged = logged.loc[logged["as_of"] <= today].reset_index(drop=True)

    name = registered_model_name(kind)
    served_version = get_alias_version(client, kind, CHAMPION)
    if served_version is None:
        raise MonitorError(f"{name} has no champion: nothing is served, nothing to monitor")
    served = version_record(client, kind, served_version)
    records: dict[str, VersionRecord] = {served.version: served}
    for version in sorted(set(logged["model_version"]) - {served.version}, key=_version_key):
        try:
            records[version] = version_record(client, kind, version)
        except MonitorError as error:
            logger.warning("predictions of %s are left out: %s", version, error)
    logged = logged.loc[logged["model_version"].isin(records)].reset_index(drop=True)
    if kind == "binary":
        logged = outcomes_mod.in_population(
            logged, {v: r.active_within_days for v, r in records.items()}
        )

    joined = outcomes_mod.join_outcomes(
        logged, known, kind, {v: r.window_days for v, r in records.items()}
    )
    table = outcomes_mod.live_metrics_table(kind, joined)
    versions: dict[str, VersionMonitor] = {}
    for version, record in records.items():
        mine = joined.loc[joined["model_version"] == version]
        versions[version] = VersionMonitor(
            version=version,
            holdout_score=record.holdout_score,
            window_days=record.window_days,
            outcomes=len(mine),
            live_metrics=_nan_free(outcomes_mod.live_metrics(kind, mine)),
        )
    live = versions[served.version].live_metrics
    outcomes = versions[served.version].outcomes
    feature_psi, prediction_psi, note, drift_rows = _drift(kind, client, served, logged, config)
    retrain, reason = decide(
        served.metric,
        served.holdout_score,
        live.get(served.metric),
        outcomes,
        feature_psi,
        prediction_psi,
        config,
        served.version,
        drift_note=note,
    )
    weekly = [
        {
            "model_version": str(row["model_version"]),
            "week": row[outcomes_mod.WEEK].isoformat(),
            "outcomes": int(row[outcomes_mod.OUTCOMES]),
            **_nan_free({str(k): v for k, v in row.items() if k not in _WEEKLY_KEYS}),
        }
        for row in table.to_dict("records")
    ]
    return MonitorResult(
        model=name,
        served_version=served.version,
        metric=served.metric,
        holdout_score=served.holdout_score,
        live_score=live.get(served.metric),
        outcomes=outcomes,
        tolerance=config.tolerance,
        drift=feature_psi,
        prediction_drift=prediction_psi,
        drift_threshold=config.drift_threshold,
        retrain_needed=retrain,
        reason=reason,
        as_of=today,
        min_outcomes=config.min_outcomes,
        live_metrics=live,
        versions=versions,
        weekly=weekly,
        drift_requests=drift_rows,
    )


_WEEKLY_KEYS = ("model_version", outcomes_mod.WEEK, outcomes_mod.OUTCOMES)


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), version) if version.isdigit() else (1 << 62, version)


# -- MLflow --------------------------------------------------------------------------------


def ensure_monitoring_experiment(settings: Settings) -> str:
    """The id of `mingo-monitoring`, created on first use (artifacts under MINGO_HOME when
    MLflow is embedded, as the models' experiments)."""
    from mingo.tracking import is_embedded_mlflow, mlflow_client

    client = mlflow_client(settings)
    existing = client.get_experiment_by_name(MONITORING_EXPERIMENT)
    if existing is not None:
        return str(existing.experiment_id)
    location = (
        (settings.mlflow_artifact_root / MONITORING_EXPERIMENT).as_uri()
        if is_embedded_mlflow(settings)
        else None
    )
    try:
        return str(client.create_experiment(MONITORING_EXPERIMENT, artifact_location=location))
    except Exception:
        again = client.get_experiment_by_name(MONITORING_EXPERIMENT)
        if again is None:
            raise
        return str(again.experiment_id)


def week_step(week: date) -> int:
    return (week - WEEK_ZERO).days // 7


def _week_millis(week: date) -> int:
    return int(datetime(week.year, week.month, week.day, tzinfo=UTC).timestamp() * 1000)


def log_monitor_run(client: MlflowClient, experiment_id: str, result: MonitorResult) -> str:
    """One run: tags of the design, weekly live metrics (served version under the gate names,
    other versions as `v<N>_<metric>`), drift metrics and the result JSON."""
    from mlflow.entities import Metric

    tags = {
        MODEL_TAG: result.model,
        VERSION_TAG: result.served_version,
        REQUEST_TAG: result.request_id or "",
        RETRAIN_TAG: "true" if result.retrain_needed else "false",
        REASON_TAG: result.reason[:MAX_TAG_CHARS],
    }
    run = client.create_run(experiment_id, tags=tags, run_name=f"monitor-{result.model}")
    run_id = run.info.run_id
    now = int(datetime.now(UTC).timestamp() * 1000)
    metrics: list[Metric] = []
    for row in result.weekly:
        week = date.fromisoformat(row["week"])
        prefix = (
            "" if row["model_version"] == result.served_version else f"v{row['model_version']}_"
        )
        for key, value in row.items():
            if key in ("model_version", "week"):
                continue
            metrics.append(
                Metric(f"{prefix}{key}", float(value), _week_millis(week), week_step(week))
            )
    summary: dict[str, float | None] = {
        "live_score": result.live_score,
        "holdout_score": result.holdout_score,
        "outcomes_total": float(result.outcomes),
        "prediction_drift": result.prediction_drift,
        "retrain_needed": float(result.retrain_needed),
        "max_drift_psi": max(result.drift.values()) if result.drift else None,
    }
    summary.update({f"{DRIFT_METRIC_PREFIX}{k}": v for k, v in result.drift.items()})
    metrics.extend(Metric(k, float(v), now, 0) for k, v in summary.items() if v is not None)
    for start in range(0, len(metrics), 1000):  # MLflow's batch limit
        client.log_batch(run_id, metrics=metrics[start : start + 1000])
    client.log_param(run_id, "as_of", result.as_of.isoformat())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / RESULT_ARTIFACT
        path.write_text(result.model_copy(update={"mlflow_run_id": run_id}).model_dump_json())
        client.log_artifact(run_id, str(path))
    client.set_terminated(run_id)
    return str(run_id)


def read_monitor_result(
    client: MlflowClient, kind: ModelKind, request_id: str
) -> MonitorResult | None:
    """The result of the monitor run of `request_id` for KIND (the newest if several), or None."""
    experiment = client.get_experiment_by_name(MONITORING_EXPERIMENT)
    if experiment is None:
        return None
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=(
            f"tags.`{MODEL_TAG}` = '{registered_model_name(kind)}' and "
            f"tags.`{REQUEST_TAG}` = '{_quoted(request_id)}'"
        ),
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(runs[0].info.run_id, RESULT_ARTIFACT, tmp)
        return MonitorResult.model_validate_json(Path(local).read_text())


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


# -- the whole run -------------------------------------------------------------------------


def default_report_path(settings: Settings, kind: ModelKind) -> Path:
    return settings.home / "reports" / f"monitor-{kind}" / "report.html"


def run_monitor(
    kind: ModelKind,
    purchases: pd.DataFrame,
    predictions: pd.DataFrame,
    settings: Settings,
    config: MonitorConfig | None = None,
    as_of: date | None = None,
    report_path: Path | None = None,
    request_id: str | None = None,
) -> MonitorResult:
    """Analyse, write the report and `metrics.prom` beside it, log the monitoring run."""
    from mingo.monitoring.report import write_prometheus, write_report
    from mingo.tracking import mlflow_client

    client = mlflow_client(settings)
    result = analyse(kind, purchases, predictions, client, config or MonitorConfig(), as_of)
    report = (report_path or default_report_path(settings, kind)).resolve()
    prometheus = report.parent / PROMETHEUS_ARTIFACT
    result = result.model_copy(
        update={
            "request_id": request_id or uuid.uuid4().hex,
            "report": str(report),
            "prometheus": str(prometheus),
        }
    )
    experiment_id = ensure_monitoring_experiment(settings)
    # The run id goes into the report, so the run is made first and the files logged after.
    run_id = log_monitor_run(client, experiment_id, result)
    result = result.model_copy(update={"mlflow_run_id": run_id})
    write_report(result, report)
    write_prometheus(result, prometheus)
    with tempfile.TemporaryDirectory() as tmp:
        # Fixed names on the run, whatever the local file is called.
        for source, name in ((report, REPORT_ARTIFACT), (prometheus, PROMETHEUS_ARTIFACT)):
            copy = Path(tmp) / name
            copy.write_bytes(source.read_bytes())
            client.log_artifact(run_id, str(copy))
    return result


def result_json(result: MonitorResult) -> str:
    """The one-line JSON `mingo monitor` prints last."""
    return json.dumps(result.model_dump(mode="json"), separators=(",", ":"))
