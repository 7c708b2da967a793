"""`mingo monitor KIND --data URI ...`: live metrics, drift, and whether to retrain.

Reads the prediction log (`--predictions`, default `MINGO_PREDICTION_LOG_URI`), joins the
predictions whose outcome window has closed with the purchases of `--data`, computes the live
metrics under the gate's names, input and prediction drift (`mingo.monitoring.monitor`), logs
a run in the MLflow experiment `mingo-monitoring`, writes the HTML report and `metrics.prom`
beside it, and prints the monitor JSON as the last stdout line. Exit codes
(`mingo.exit_codes`): 0 whether or not a retraining is needed; 2 the data or the prediction log
is unusable (the message names what); 1 anything else (no champion, an unreachable registry).
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from mingo.cli.context import settings_of
from mingo.cli.options import KindArgument
from mingo.cli.train import parse_kind
from mingo.config import PREDICTION_LOG_OFF
from mingo.exit_codes import EXIT_BAD_DATA, EXIT_FAILED


def _fail(message: str, code: int) -> typer.Exit:
    print(f"mingo monitor: {message}", file=sys.stderr, flush=True)
    return typer.Exit(code=code)


def monitor(
    ctx: typer.Context,
    kind: KindArgument,
    data: Annotated[
        str | None,
        typer.Option("--data", help="Purchases: local path or s3://bucket/key (MINGO_DATA_URI)"),
    ] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="The monitor's today, YYYY-MM-DD: later purchases and predictions are ignored "
            "(default: the last purchase date in the data)",
        ),
    ] = None,
    predictions: Annotated[
        str | None,
        typer.Option(
            "--predictions",
            help="Prediction log: a local directory or postgresql://... "
            "(default: MINGO_PREDICTION_LOG_URI)",
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="HTML report path; metrics.prom is written beside it "
            "(default: $MINGO_HOME/reports/monitor-KIND/report.html)",
        ),
    ] = None,
    tolerance: Annotated[
        float | None,
        typer.Option("--tolerance", help="Largest drop of the live gate metric (default 0.05)"),
    ] = None,
    drift_threshold: Annotated[
        float | None,
        typer.Option("--drift-threshold", help="PSI above which drift retrains (default 0.25)"),
    ] = None,
    min_outcomes: Annotated[
        int | None,
        typer.Option(
            "--min-outcomes", help="Outcomes needed to judge the live metric (default 100)"
        ),
    ] = None,
    request_id: Annotated[
        str | None,
        typer.Option("--request-id", help="Tag of the monitoring run (the DAG passes its run id)"),
    ] = None,
) -> None:
    """Judge the served version of mingo-KIND on what happened after its predictions."""
    from pydantic import ValidationError

    from mingo.cli.options import describe
    from mingo.data import schema
    from mingo.data.errors import DataError, DataUnavailableError
    from mingo.data.io import load_purchases
    from mingo.data.validate import clean_purchases
    from mingo.monitoring.monitor import MonitorConfig, MonitorError, result_json, run_monitor
    from mingo.monitoring.outcomes import PredictionLogError
    from mingo.monitoring.prediction_log import PredictionStoreError, open_prediction_store

    settings = settings_of(ctx)
    model_kind = parse_kind(kind)
    chosen = {
        "tolerance": tolerance,
        "drift_threshold": drift_threshold,
        "min_outcomes": min_outcomes,
    }
    try:
        config = MonitorConfig.model_validate({k: v for k, v in chosen.items() if v is not None})
    except ValidationError as error:
        raise typer.BadParameter(describe(error)) from None
    data_uri = data or settings.data_uri
    if not data_uri:
        raise _fail("no data: pass --data URI or set MINGO_DATA_URI", EXIT_BAD_DATA)
    log_uri = predictions or settings.prediction_log_uri
    if not log_uri or log_uri.strip().lower() == PREDICTION_LOG_OFF:
        raise _fail(
            "no prediction log: pass --predictions URI (MINGO_PREDICTION_LOG_URI is off)",
            EXIT_BAD_DATA,
        )
    try:
        purchases, _ = clean_purchases(load_purchases(data_uri, settings.data_s3))
    except DataUnavailableError as error:  # the store is down: retryable
        raise _fail(str(error), EXIT_FAILED) from error
    except DataError as error:
        raise _fail(str(error), EXIT_BAD_DATA) from error
    day = as_of.date() if as_of is not None else None
    if day is not None and not (purchases[schema.DATE].dt.date <= day).any():
        raise _fail(
            f"the data {data_uri} has no purchase on or before --as-of {day}", EXIT_BAD_DATA
        )
    try:
        logged = open_prediction_store(log_uri).read(model_kind, until=day)
    except PredictionStoreError as error:  # unreachable or failing store: retryable
        raise _fail(str(error), EXIT_FAILED) from error
    except (OSError, ValueError) as error:
        raise _fail(f"cannot read the prediction log {log_uri}: {error}", EXIT_BAD_DATA) from error
    try:
        result = run_monitor(
            model_kind,
            purchases,
            logged,
            settings,
            config=config,
            as_of=day,
            report_path=report,
            request_id=request_id,
        )
    except PredictionLogError as error:
        raise _fail(f"prediction log {log_uri}: {error}", EXIT_BAD_DATA) from error
    except MonitorError as error:
        raise _fail(str(error), EXIT_FAILED) from error
    print(
        f"{result.model} version {result.served_version}: {result.reason}",
        file=sys.stderr,
        flush=True,
    )
    print(f"report: {result.report}", file=sys.stderr, flush=True)
    typer.echo(result_json(result))
