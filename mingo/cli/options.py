"""Options that several `mingo` commands share, defined once with one help text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pydantic import ValidationError

KindArgument = Annotated[str, typer.Argument(help="binary, multiclass or clustering")]
CutoffOption = Annotated[
    str | None, typer.Option("--cutoff", help="Holdout cutoff YYYY-MM-DD (cutoff)")
]
HorizonOption = Annotated[
    int | None,
    typer.Option(
        "--horizon",
        help="Label window in days (horizon_days): binary buys within it, multiclass's next "
        "route is the first in it, clustering's cutoff step. A champion with another window "
        "is not comparable (not promoted unless --force-promote)",
    ),
]


def describe(error: ValidationError) -> str:
    """A pydantic error as `field: problem; field: problem`."""
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
