"""`mingo evaluate` (placeholder until its issue lands)."""

import typer


def evaluate() -> None:
    """Not built yet."""
    raise typer.Exit(code=1)
