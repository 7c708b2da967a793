"""`mingo serve` (placeholder until its issue lands)."""

import typer


def serve() -> None:
    """Not built yet."""
    raise typer.Exit(code=1)
