"""`mingo evaluate KIND --data URI`: train and score one model offline (no registry).

It trains exactly as `mingo train` would (the shipped pipeline config of KIND, with the same
`--cutoff` and `--horizon` applied), without registering or judging anything.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from mingo.cli.context import settings_of
from mingo.cli.options import CutoffOption, HorizonOption, KindArgument, describe
from mingo.exit_codes import EXIT_BAD_DATA, EXIT_FAILED


def evaluate(
    ctx: typer.Context,
    kind: KindArgument,
    data: Annotated[str, typer.Option("--data", help="Purchases: local path or s3://bucket/key")],
    cutoff: CutoffOption = None,
    horizon: HorizonOption = None,
) -> None:
    """Print a metrics JSON: the model's metrics at top level, the baseline's under `baseline`."""
    from pydantic import ValidationError

    from mingo.cli.train import parse_kind
    from mingo.data.errors import DataError, DataUnavailableError
    from mingo.data.io import load_purchases
    from mingo.data.validate import clean_purchases
    from mingo.models import baseline_metrics, build_datasets, fit, score
    from mingo.retraining.config import apply_request, load_retraining_config
    from mingo.retraining.request import RetrainRequest

    try:
        request = RetrainRequest(
            kind=parse_kind(kind),
            data_uri=data,
            cutoff=cutoff,  # type: ignore[arg-type]
            horizon_days=horizon,
        )
    except ValidationError as error:
        raise typer.BadParameter(describe(error)) from None
    config = apply_request(
        load_retraining_config(request.kind), request
    ).model_config_for_training()
    try:
        purchases, cleaning = clean_purchases(load_purchases(data, settings_of(ctx).data_s3))
    except DataUnavailableError as error:  # the store is down: retryable
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=EXIT_FAILED) from error
    except DataError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=EXIT_BAD_DATA) from error
    try:
        train, holdout = build_datasets(purchases, config)
        model = fit(train, config)
        metrics = score(model, holdout)
        baseline = baseline_metrics(train, holdout, config)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=EXIT_BAD_DATA) from error
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
