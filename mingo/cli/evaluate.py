"""`mingo evaluate KIND --data URI`: train and score one model offline (no registry)."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import typer

from mingo import MODEL_KINDS


def evaluate(
    kind: Annotated[str, typer.Argument(help="binary, multiclass or clustering")],
    data: Annotated[str, typer.Option("--data", help="purchases: local path or s3://bucket/key")],
    cutoff: Annotated[
        str | None, typer.Option("--cutoff", help="holdout cutoff YYYY-MM-DD")
    ] = None,
    horizon: Annotated[
        int | None,
        typer.Option(
            "--horizon",
            help="label window in days (binary: buys within it; multiclass: next route in it; "
            "clustering: cutoff step), as for mingo train",
        ),
    ] = None,
) -> None:
    """Print a metrics JSON: the model's metrics at top level, the baseline's under `baseline`."""
    if kind not in MODEL_KINDS:
        raise typer.BadParameter(f"KIND must be one of {list(MODEL_KINDS)}, got {kind!r}")
    try:
        parsed_cutoff = date.fromisoformat(cutoff) if cutoff else None
    except ValueError as error:
        raise typer.BadParameter(f"--cutoff must be YYYY-MM-DD, got {cutoff!r}") from error

    from mingo.data.errors import DataError, DataUnavailableError
    from mingo.data.io import load_purchases
    from mingo.data.validate import clean_purchases
    from mingo.models import ModelConfig, baseline_metrics, build_datasets, fit, score
    from mingo.models.target import with_horizon

    config = ModelConfig(kind=kind, cutoff=parsed_cutoff)
    if horizon is not None:
        config = with_horizon(config, horizon)
    try:
        purchases, cleaning = clean_purchases(load_purchases(data))
    except DataUnavailableError as error:  # the store is down: retryable
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from error
    except DataError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from error
    try:
        train, holdout = build_datasets(purchases, config)
        model = fit(train, config)
        metrics = score(model, holdout)
        baseline = baseline_metrics(train, holdout, config)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from error
    report: dict[str, Any] = {
        **metrics,
        "baseline": baseline,
        "model": kind,
        "rows": cleaning.rows,
        "dropped_rows": cleaning.dropped_rows,
        "customers": int(purchases["fk_contact"].nunique()),
        "train_customers": len(train.features),
        "holdout_customers": len(holdout.features),
        "train_cutoff": train.cutoff.isoformat(),
        "cutoff": holdout.cutoff.isoformat(),
    }
    typer.echo(json.dumps(report, indent=2))
