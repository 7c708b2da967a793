"""`mingo data ...` commands: generate synthetic purchases, validate a purchases file.

Exit codes: 0 done (for `validate`: the file is usable, some rows may be dropped); 2 the data
is unusable (rejected, unreadable, no such object); 1 anything else, among which a store that
cannot be reached (`DataUnavailableError`: retry later).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from mingo.cli.context import settings_of
from mingo.exit_codes import EXIT_BAD_DATA, EXIT_FAILED

if TYPE_CHECKING:
    from mingo.data.validate import ValidationReport

app = typer.Typer(help="ClickBus purchase data: generate and validate.", no_args_is_help=True)


@app.command("generate")
def generate(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option("--customers", min=1, help="number of customers")],
    out: Annotated[
        str, typer.Option("--out", help="target .csv or .parquet: local path or s3://bucket/key")
    ],
    seed: Annotated[int, typer.Option("--seed", help="random seed (same seed, same data)")] = 42,
    dirty_rows: Annotated[
        int,
        typer.Option("--dirty-rows", min=0, help="rows to corrupt as in the real file"),
    ] = 0,
    shift_after: Annotated[
        datetime | None,
        typer.Option(
            "--shift-after",
            formats=["%Y-%m-%d"],
            help="YYYY-MM-DD: customers' buying rhythm inverts after this date "
            "(frequent become occasional and the reverse), for monitoring tests",
        ),
    ] = None,
) -> None:
    """Write ClickBus-shaped synthetic purchases (~3 orders per customer)."""
    from rich.console import Console

    from mingo.data.errors import DataError, DataUnavailableError
    from mingo.data.generate import generate_purchases
    from mingo.data.io import save_purchases
    from mingo.data.schema import CUSTOMER_ID

    console = Console(stderr=True)
    started = time.perf_counter()
    try:
        with console.status(f"generating purchases of {customers:,} customers"):
            frame = generate_purchases(
                customers,
                seed,
                dirty_rows=dirty_rows,
                shift_after=None if shift_after is None else shift_after.date(),
            )
        with console.status(f"writing {len(frame):,} rows to {out}"):
            save_purchases(frame, out, settings_of(ctx).data_s3)
    except (DataError, DataUnavailableError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=EXIT_FAILED) from error
    elapsed = time.perf_counter() - started
    typer.echo(
        f"wrote {len(frame):,} rows, {frame[CUSTOMER_ID].nunique():,} customers "
        f"({dirty_rows:,} dirty rows) to {out} in {elapsed:.1f} s"
    )


@app.command("validate")
def validate(
    ctx: typer.Context,
    uri: Annotated[str, typer.Argument(help="purchases file: local path or s3://bucket/key")],
) -> None:
    """Check a purchases file: exit 0 when usable (some rows may be dropped), 2 when not,
    1 when the store cannot be reached."""
    from mingo.data.errors import DataError, DataUnavailableError
    from mingo.data.io import validate_purchases_uri

    try:
        report = validate_purchases_uri(uri, settings_of(ctx).data_s3)
    except DataUnavailableError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=EXIT_FAILED) from error
    except DataError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=EXIT_BAD_DATA) from error
    if report.rejected:
        typer.echo(f"{uri}: rejected ({report.rows:,} rows read)", err=True)
        for problem in report.rejecting_problems():
            typer.echo(problem.message(), err=True)
        _echo_dropped(report, err=True)
        raise typer.Exit(code=EXIT_BAD_DATA)
    typer.echo(
        f"{uri}: valid: {report.rows:,} rows, {report.rows - report.dropped_rows:,} usable, "
        f"{report.dropped_rows:,} dropped"
    )
    _echo_dropped(report, err=False)


def _echo_dropped(report: ValidationReport, *, err: bool) -> None:
    for problem in report.dropping_problems():
        typer.echo(f"dropped: {problem.message()}", err=err)
