"""`mingo score KIND --data URI [--as-of DATE] --out URI [--version N]`: batch scores.

Every customer with a purchase on or before the as-of date is scored by the champion (the
alias resolved to a version number once, at start) or by the pinned `--version`, with the
service's own prediction code (`mingo.scoring`); the Parquet names the version in every row.
Progress goes to stderr; the last stdout line is the summary JSON. Exit codes
(`mingo.exit_codes`): 0 written; 2 the data (or the --out name) is unusable, the message
names column, rows and rule; 1 anything else (no champion, an unreachable registry or S3).
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from mingo.cli.context import settings_of
from mingo.cli.options import KindArgument
from mingo.cli.train import parse_kind
from mingo.exit_codes import EXIT_BAD_DATA, EXIT_FAILED

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


def _fail(message: str, code: int) -> typer.Exit:
    print(f"mingo score: {message}", file=sys.stderr, flush=True)
    return typer.Exit(code=code)


def score(
    ctx: typer.Context,
    kind: KindArgument,
    out: Annotated[
        str,
        typer.Option("--out", help="Target .parquet file: local path or s3://bucket/key"),
    ],
    data: Annotated[
        str | None,
        typer.Option("--data", help="Purchases: local path or s3://bucket/key (MINGO_DATA_URI)"),
    ] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="Score as of YYYY-MM-DD (default: the last purchase date in the data)",
        ),
    ] = None,
    version: Annotated[
        int | None,
        typer.Option(
            "--version", min=1, help="Score with this registry version (default: the champion)"
        ),
    ] = None,
) -> None:
    """Score every customer of the data by mingo-KIND@champion (or --version); write Parquet."""
    from rich.console import Console

    from mingo.data.errors import DataError
    from mingo.scoring import score_uri
    from mingo.serving.champion import ChampionUnavailable

    settings = settings_of(ctx)
    model_kind = parse_kind(kind)
    data_uri = data or settings.data_uri
    if not data_uri:
        raise _fail("no data: pass --data URI or set MINGO_DATA_URI", EXIT_BAD_DATA)
    console = Console(stderr=True)
    with _progress_bar(console) as bar:
        task = bar.add_task(f"scoring {model_kind}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            summary = score_uri(
                model_kind,
                data_uri,
                out,
                settings,
                as_of=as_of.date() if as_of is not None else None,
                version=str(version) if version is not None else None,
                progress=progress,
                on_step=lambda step: console.print(f"mingo score: {step}"),
            )
        except DataError as error:
            raise _fail(str(error), EXIT_BAD_DATA) from None
        except ChampionUnavailable as error:
            raise _fail(str(error), EXIT_FAILED) from None
        except Exception as error:
            # An unreachable S3 (DataUnavailableError) included: retrying may help.
            raise _fail(f"{type(error).__name__}: {error}", EXIT_FAILED) from error
        _finish(bar, task)
    if summary.unscored_customers:
        console.print(
            f"mingo score: {summary.unscored_customers:,} customer(s) have no purchase on or "
            f"before {summary.as_of}: not scored"
        )
    print(summary.model_dump_json(), flush=True)


def _progress_bar(console: Console) -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("customers"),
        TimeElapsedColumn(),
        console=console,
    )


def _finish(bar: Progress, task: TaskID) -> None:
    # No customer to score leaves the total unknown; show the bar complete either way.
    total = bar.tasks[0].total or 0
    bar.update(task, completed=total, total=total)
