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
    "min_absolute_margin": 0.02,
    "force_promote": True,
    "dry_run": True,
    "trigger_reason": "max feature PSI 0.41 (recency_days) > drift threshold 0.25",
}
# What a run adds to its params (commands.run_inputs).
RUN = {commands.RUN_ID: "scheduled__2026-06-01T06:00:00+00:00", commands.RUN_DATE: "2026-06-01"}


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
    assert context.params["min_absolute_margin"] == pytest.approx(0.02)
    assert context.params["horizon"] == 7
    assert context.params["force_promote"] and context.params["dry_run"]
    assert context.params["trigger_reason"] == FULL_PARAMS["trigger_reason"]


def test_an_empty_trigger_reason_adds_no_option() -> None:
    argv = commands.train_command("binary")({**FULL_PARAMS, "trigger_reason": ""})
    assert "--trigger-reason" not in argv
    assert _parse(argv).params["trigger_reason"] == ""


MONITOR_PARAMS = {
    "data_uri": "s3://mingo-data/purchases.csv",
    "as_of": "2026-05-31",
    "tolerance": 0.03,
    "drift_threshold": 0.2,
    "min_outcomes": 250,
}


@pytest.mark.parametrize("kind", ["binary", "multiclass", "clustering"])
def test_monitor_command_with_every_param_parses(kind: str) -> None:
    context = _parse(commands.monitor_command(kind)({**MONITOR_PARAMS, **RUN}))
    assert context.params["kind"] == kind
    assert context.params["data"] == MONITOR_PARAMS["data_uri"]
    assert context.params["as_of"].date().isoformat() == "2026-05-31"
    assert context.params["tolerance"] == pytest.approx(0.03)
    assert context.params["drift_threshold"] == pytest.approx(0.2)
    assert context.params["min_outcomes"] == 250
    # The id the branch reads the result back by.
    assert context.params["request_id"] == RUN[commands.RUN_ID]
    no_as_of = commands.monitor_command(kind)({**MONITOR_PARAMS, "as_of": None, **RUN})
    assert _parse(no_as_of).params["as_of"] is None


@pytest.mark.parametrize("version", [None, 3])
def test_score_command_parses(version: int | None) -> None:
    params = {"data_uri": "s3://mingo-data/purchases.csv", "as_of": None, "version": version}
    build = commands.score_command("multiclass", "s3://mingo-data/scores")
    context = _parse(build({**params, **RUN}))
    assert context.params["kind"] == "multiclass"
    assert context.params["data"] == params["data_uri"]
    assert context.params["as_of"].date().isoformat() == RUN[commands.RUN_DATE]
    assert context.params["out"] == "s3://mingo-data/scores/multiclass/2026-06-01.parquet"
    assert context.params["version"] == version


DEPLOY_INPUTS = {**FULL_PARAMS, commands.DEPLOY_VERSION: "7"}


def test_validate_command_parses() -> None:
    context = _parse(commands.validate_command(FULL_PARAMS))
    assert context.params["uri"] == FULL_PARAMS["data_uri"]


@pytest.mark.parametrize("local", [False, True])
@pytest.mark.parametrize(
    ("builder", "subcommand"),
    [
        (lambda local: commands.roll_command("binary", "ns", 300, local=local), "roll"),
        (lambda local: commands.smoke_test_command("binary", "ns"), "smoke-test"),
        (lambda local: commands.rollback_command("binary", "ns", 300, local=local), "rollback"),
    ],
)
def test_each_deploy_task_is_one_deploy_subcommand_on_the_promoted_version(
    builder: Any, subcommand: str, local: bool
) -> None:
    argv = builder(local)(DEPLOY_INPUTS)
    assert argv[:3] == ["deploy", subcommand, "binary"]
    context = _parse(argv)
    # The version decide found promoted, never a re-read alias.
    assert context.params["version"] == "7"
    assert context.params["kind"] == "binary"
    if subcommand != "smoke-test":
        assert context.params["local"] is local
        if not local:
            assert (context.params["namespace"], context.params["timeout"]) == ("ns", 300)
    else:
        assert context.params["namespace"] == "ns"


def test_local_smoke_test_extra_option_parses() -> None:
    # The local runner appends this to the smoke test's command (a slow first model load).
    argv = commands.smoke_test_command("binary", "ns")(DEPLOY_INPUTS)
    assert _parse([*argv, "--ready-timeout", "180"]).params["ready_timeout"] == 180


def test_the_old_redeploy_modes_still_parse() -> None:
    # Users may call `mingo redeploy`; the DAG no longer does.
    for flags in (
        [],
        ["--skip-smoke-test"],
        ["--smoke-test-only"],
        ["--rollback"],
        ["--local"],
        ["--rollback", "--local"],
    ):
        _parse(["redeploy", "binary", "--namespace", "mingo", "--timeout", "600", *flags])


def test_an_unknown_option_is_caught() -> None:
    with pytest.raises(Exception, match="No such option"):
        _parse(["train", "binary", "--data", "x.csv", "--no-such-option", "1"])
