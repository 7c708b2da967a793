"""`mingo redeploy` (placeholder until its issue lands)."""

import typer


def redeploy() -> None:
    """Not built yet."""
    raise typer.Exit(code=1)
