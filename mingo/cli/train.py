"""`mingo train KIND --data URI ...`: run one retraining, print the decision.

The options are the fields of `mingo.retraining.request.RetrainRequest` under the same names
(`--min-absolute-margin` is `min_absolute_margin` on the trigger form, the policy and the
decision). The decision JSON is the last line on stdout. Exit codes: `mingo.exit_codes`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mingo import MODEL_KINDS, ModelKind
from mingo.cli.context import settings_of
from mingo.cli.options import CutoffOption, HorizonOption, KindArgument, describe
from mingo.exit_codes import EXIT_BAD_DATA, EXIT_BUSY, EXIT_FAILED

if TYPE_CHECKING:
    from mingo.config import Settings
    from mingo.retraining.request import RetrainRequest


def _fail(message: str, code: int) -> typer.Exit:
    print(f"mingo train: {message}", file=sys.stderr)
    return typer.Exit(code=code)


def parse_kind(value: str) -> ModelKind:
    for kind in MODEL_KINDS:
        if kind == value:
            return kind
    raise typer.BadParameter(f"KIND must be one of {', '.join(MODEL_KINDS)}, not {value!r}")


def train(
    ctx: typer.Context,
    kind: KindArgument,
    data: Annotated[
        str | None,
        typer.Option("--data", help="Purchases: local path or s3://bucket/key (data_uri)"),
    ] = None,
    cutoff: CutoffOption = None,
    horizon: HorizonOption = None,
    min_absolute_margin: Annotated[
        float | None,
        typer.Option(
            "--min-absolute-margin",
            "--margin",
            help="Smallest absolute improvement of the promotion metric that promotes, 0..1; "
            "replaces the config's absolute and relative margins (--margin: the older name)",
        ),
    ] = None,
    force_promote: Annotated[
        bool, typer.Option("--force-promote", help="Promote whatever the margin (recorded)")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Train and compare; register and promote nothing")
    ] = False,
    trigger_reason: Annotated[
        str,
        typer.Option(
            "--trigger-reason",
            help="Why this run was started (the monitor sets it); recorded in the decision "
            "and on the version",
        ),
    ] = "",
    config: Annotated[
        Path | None, typer.Option("--config", help="Pipeline YAML (default: the shipped one)")
    ] = None,
    runner: Annotated[
        str,
        typer.Option(
            "--runner",
            help="Who runs the stages: zenml (the pipeline, with lineage), in-process (no "
            "orchestrator), or module:attribute",
        ),
    ] = "zenml",
) -> None:
    """Retrain KIND, judge it against the champion on the same holdout, maybe promote."""
    from pydantic import ValidationError

    from mingo.retraining.request import RetrainRequest

    settings = settings_of(ctx)
    try:
        request = RetrainRequest(
            kind=parse_kind(kind),
            data_uri=data,
            cutoff=cutoff,  # type: ignore[arg-type]
            horizon_days=horizon,
            min_absolute_margin=min_absolute_margin,
            force_promote=force_promote,
            dry_run=dry_run,
            trigger_reason=trigger_reason,
            config_path=config,
        )
    except ValidationError as error:
        raise _fail(f"invalid options: {describe(error)}", EXIT_FAILED) from None
    _retrain(request, runner, settings)


def _retrain(request: RetrainRequest, runner_name: str, settings: Settings) -> None:
    from mingo.data.errors import DataError
    from mingo.retraining.runner import load_runner, plan_retraining
    from mingo.retraining_lock import RetrainingInProgressError, retraining_lock

    kind = request.kind
    before: str | Exception | None = None
    try:
        plan = plan_retraining(request, settings)
        runner = load_runner(runner_name)
        # Taken first, so a second retraining of KIND gives up before any costly setup.
        with retraining_lock(kind, settings.home):
            try:
                before = _read_champion(kind, settings)
            except Exception as error:
                # An unreachable registry fails the run later, at the stage that needs it.
                before = error
            decision = runner.run(plan, settings, progress=_progress)
    except RetrainingInProgressError as error:
        raise _fail(str(error), EXIT_BUSY) from error
    except Exception as error:
        # An unreachable store (DataUnavailableError, not a DataError) is retryable: exit 1.
        code = EXIT_BAD_DATA if isinstance(error, DataError) else EXIT_FAILED
        raise _fail(
            f"retraining of {kind} failed ({_champion_after_failure(kind, before, settings)}): "
            f"{type(error).__name__}: {error}",
            code,
        ) from error
    print(decision.model_dump_json(), flush=True)


def _progress(stage: str, detail: str) -> None:
    print(f"mingo train: {stage} done: {detail}", file=sys.stderr, flush=True)


def _read_champion(kind: ModelKind, settings: Settings) -> str | None:
    from mingo.registry import CHAMPION, get_alias_version
    from mingo.tracking import mlflow_client

    return get_alias_version(mlflow_client(settings), kind, CHAMPION)


def _champion_after_failure(
    kind: ModelKind, before: str | Exception | None, settings: Settings
) -> str:
    """What the registry serves after a failure, read back rather than assumed."""
    try:
        now = _read_champion(kind, settings)
    except Exception as error:
        return f"champion not read back: {type(error).__name__}"
    if isinstance(before, Exception):
        return f"champion is version {now}"
    if now == before:
        return f"champion unchanged: version {now}"
    return f"champion moved from version {before} to {now} during this run"
