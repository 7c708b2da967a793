"""What the `mingo` callback prepares once per process for every command."""

from __future__ import annotations

import typer

from mingo.config import Settings, load_settings


def load_into(ctx: typer.Context) -> None:
    """Read the environment once, in the `mingo` callback, for the command that follows."""
    ctx.obj = load_settings()


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the `mingo` callback loaded for this process."""
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):
        raise RuntimeError("mingo's settings were not loaded: run commands through `mingo`")
    return settings
