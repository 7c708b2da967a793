"""`mingo demo`: what `make demo` runs (see `scenario` beside this module for the sequence)."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from mingo.cli.context import settings_of

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
WIDTH_WHEN_NOT_A_TERMINAL = 130


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def demo(
    ctx: typer.Context,
    customers: Annotated[
        int, typer.Option("--customers", min=200, help="Customers in the generated purchases")
    ] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Generator seed")] = 7,
    weeks: Annotated[
        int, typer.Option("--weeks", min=1, help="Weeks between the two scheduled runs")
    ] = 8,
    home: Annotated[
        Path | None,
        typer.Option("--home", help="The demo's own state directory (default: $MINGO_HOME/demo)"),
    ] = None,
    keep_state: Annotated[
        bool,
        typer.Option("--keep-state", help="Reuse the demo home instead of resetting it"),
    ] = False,
    keep_serving: Annotated[
        bool,
        typer.Option("--keep-serving", help="Leave the services up until Ctrl-C"),
    ] = False,
) -> None:
    """Generate data, retrain and promote the three models, serve them, retrain on newer data."""
    from rich.console import Console

    from mingo.cli.demo.console import print_error
    from mingo.cli.demo.scenario import DemoOptions, run_demo

    console = Console()
    if not console.is_terminal:
        # Piped to a file or CI log: wide enough that the tables keep one line per row.
        console = Console(width=WIDTH_WHEN_NOT_A_TERMINAL)
    options = DemoOptions(
        home=home or settings_of(ctx).home / "demo",
        customers=customers,
        seed=seed,
        weeks_between_runs=weeks,
        fresh=not keep_state,
        keep_serving=keep_serving,
    )
    # A SIGTERM (a supervisor, `timeout`, a closed CI job) unwinds like Ctrl-C, so the
    # services the demo started are stopped by its `finally` instead of being orphaned.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        run_demo(options, console)
    except KeyboardInterrupt:
        console.print("interrupted: the demo's services were stopped")
        raise typer.Exit(code=EXIT_INTERRUPTED) from None
    except Exception as error:
        print_error(console, f"{type(error).__name__}: {error}")
        raise typer.Exit(code=EXIT_FAILED) from error
