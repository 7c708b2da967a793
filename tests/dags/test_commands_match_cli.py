"""Every `mingo` command line a DAG step builds is accepted by the real CLI's parser.

A DAG passes options the CLI might not know; parsing (without running) catches that here
instead of in a failed pod at 3 a.m.
"""

from __future__ import annotations

from typing import Any

import pytest
import typer

from dags.mingo_dags import commands
from mingo.cli.app import app

FULL_PARAMS = {
    "data_uri": "s3://mingo-data/purchases.csv",
    "cutoff": "2024-02-01",
    "horizon_days": 7,
    "promotion_margin": 0.02,
    "force_promote": True,
    "dry_run": True,
}


def _parse(argv: list[str]) -> Any:
    """The parsed context of `mingo ARGV` (Typer's own click: groups have `.commands`)."""
    command: Any = typer.main.get_command(app)
    rest = list(argv)
    while hasattr(command, "commands"):
        name, *rest = rest
        command = command.commands[name]
    return command.make_context(argv[0], rest)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "clustering"])
def test_train_command_with_every_param_parses(kind: str) -> None:
    context = _parse(commands.train_command(kind)(FULL_PARAMS))
    assert context.params["margin"] == pytest.approx(0.02)
    assert context.params["horizon"] == 7
    assert context.params["force_promote"] and context.params["dry_run"]


def test_other_step_commands_parse() -> None:
    argvs = [
        commands.validate_command(FULL_PARAMS),
        commands.redeploy_command("binary", "mingo", 300, local=False)(FULL_PARAMS),
        commands.redeploy_command("binary", "mingo", 300, local=True)(FULL_PARAMS),
        commands.smoke_test_command("binary", "mingo")(FULL_PARAMS),
        commands.rollback_command("binary", "mingo", 300, local=False)(FULL_PARAMS),
        commands.rollback_command("binary", "mingo", 300, local=True)(FULL_PARAMS),
    ]
    for argv in argvs:
        _parse(argv)


def test_an_unknown_option_is_caught() -> None:
    with pytest.raises(Exception, match="No such option"):
        _parse(["train", "binary", "--data", "x.csv", "--no-such-option", "1"])
