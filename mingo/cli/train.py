"""`mingo train KIND --data URI ...`: run the ZenML retraining pipeline, print the decision.

The decision JSON is the last line on stdout. Exit 0 when the run completed (promoted or
not); 2 when the data is invalid; 3 when another retraining of KIND is running; 1 otherwise.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mingo import MODEL_KINDS, ModelKind

if TYPE_CHECKING:
    from mingo.config import Settings
    from mingo.retraining import Decision

EXIT_FAILED = 1
EXIT_BAD_DATA = 2
EXIT_BUSY = 3


def _fail(message: str, code: int) -> typer.Exit:
    print(f"mingo train: {message}", file=sys.stderr)
    return typer.Exit(code=code)


def parse_kind(value: str) -> ModelKind:
    for kind in MODEL_KINDS:
        if kind == value:
            return kind
    raise typer.BadParameter(f"KIND must be one of {', '.join(MODEL_KINDS)}, not {value!r}")


def train(
    kind: Annotated[str, typer.Argument(help="binary, multiclass or clustering")],
    data: Annotated[
        str | None, typer.Option("--data", help="Purchases: local path or s3://bucket/key")
    ] = None,
    cutoff: Annotated[
        str | None, typer.Option("--cutoff", help="Holdout cutoff YYYY-MM-DD")
    ] = None,
    horizon: Annotated[
        int | None,
        typer.Option(
            "--horizon",
            help="Label window in days: binary buys within it, multiclass's next route is the "
            "first in it, clustering's cutoff step. A champion with another window is not "
            "comparable (not promoted unless --force-promote)",
        ),
    ] = None,
    force_promote: Annotated[
        bool, typer.Option("--force-promote", help="Promote whatever the margin (recorded)")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Train and compare; register and promote nothing")
    ] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="Pipeline YAML (default: the shipped one)")
    ] = None,
    margin: Annotated[
        float | None,
        typer.Option(
            "--margin",
            min=0.0,
            help="Required absolute improvement of the promotion metric; replaces the config's "
            "absolute and relative margins",
        ),
    ] = None,
) -> None:
    """Retrain KIND with the ZenML pipeline, judge it against the champion, maybe promote."""
    from mingo.config import load_settings
    from mingo.retraining_lock import RetrainingInProgressError, retraining_lock

    model_kind = parse_kind(kind)
    settings = load_settings()
    before: str | Exception | None = None
    try:
        # Taken first, so a second retraining of KIND gives up before any costly setup.
        with retraining_lock(model_kind, settings.home):
            try:
                before = _read_champion(model_kind)
            except Exception as error:
                # An unreachable registry fails the run later, at the stage that needs it.
                before = error
            decision = _prepare_and_run(
                model_kind, settings, data, cutoff, horizon, margin, config, dry_run, force_promote
            )
    except RetrainingInProgressError as error:
        raise _fail(str(error), EXIT_BUSY) from error
    except typer.Exit:
        raise
    except Exception as error:
        from mingo.data.errors import DataError

        # An unreachable store (DataUnavailableError, not a DataError) is retryable: exit 1.
        code = EXIT_BAD_DATA if isinstance(error, DataError) else EXIT_FAILED
        raise _fail(
            f"retraining of {model_kind} failed ({_champion_after_failure(model_kind, before)}): "
            f"{type(error).__name__}: {error}",
            code,
        ) from error
    print(decision.model_dump_json(), flush=True)


def _read_champion(kind: ModelKind) -> str | None:
    from mingo.registry import CHAMPION, get_alias_version
    from mingo.tracking import mlflow_client

    return get_alias_version(mlflow_client(), kind, CHAMPION)


def _champion_after_failure(kind: ModelKind, before: str | Exception | None) -> str:
    """What the registry serves after a failure, read back rather than assumed."""
    try:
        now = _read_champion(kind)
    except Exception as error:
        return f"champion not read back: {type(error).__name__}"
    if isinstance(before, Exception):
        return f"champion is version {now}"
    if now == before:
        return f"champion unchanged: version {now}"
    return f"champion moved from version {before} to {now} during this run"


def _prepare_and_run(
    kind: ModelKind,
    settings: Settings,
    data: str | None,
    cutoff: str | None,
    horizon: int | None,
    margin: float | None,
    config: Path | None,
    dry_run: bool,
    force_promote: bool,
) -> Decision:
    # ZenML reads its paths at import: prepare it before anything imports zenml.
    from zenml_pipelines.environment import prepare_zenml

    prepare_zenml(settings)
    from zenml_pipelines.run import load_config, run_retraining

    try:
        pipeline_config = load_config(kind, config)
    except ValueError as error:
        raise _fail(str(error), EXIT_FAILED) from error
    overrides: dict[str, object] = {}
    if cutoff is not None:
        try:
            overrides["cutoff"] = date.fromisoformat(cutoff)
        except ValueError as error:
            raise _fail(f"--cutoff {cutoff!r} is not a date YYYY-MM-DD", EXIT_FAILED) from error
    if horizon is not None:
        if horizon <= 0:
            raise _fail(f"--horizon must be a positive number of days, not {horizon}", EXIT_FAILED)
        from mingo.models.target import label_window_field

        overrides[label_window_field(kind)] = horizon
    if overrides:
        pipeline_config = pipeline_config.with_training(**overrides)
    if margin is not None:
        pipeline_config = pipeline_config.with_absolute_margin(margin)
    data_uri = data or pipeline_config.data_uri or settings.data_uri
    if not data_uri:
        raise _fail(
            "no data: pass --data URI, set data_uri in the config or MINGO_DATA_URI", EXIT_FAILED
        )
    return run_retraining(pipeline_config, data_uri, dry_run=dry_run, force_promote=force_promote)
