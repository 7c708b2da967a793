"""`mingo train` (placeholder until its issue lands)."""

import typer


def train() -> None:
    """Not built yet."""
    raise typer.Exit(code=1)
