"""The `mingo` command lines the DAG steps run, built from a run's params.

Both runners execute exactly these argument lists (as a pod's args or a local process), so
a DAG behaves the same on a laptop and in the cluster. Optional flags appear only when their
param is set, which is why the lists are built in Python rather than templated.

The deploy steps map one task to one `mingo deploy` subcommand, each told the version this
run promoted: the `decide` task records it, and the step's operator adds it to the mapping
its builder gets under `DEPLOY_VERSION` when the task starts. Every builder also gets the
run's id and date (`run_inputs`): the monitor's request id, the batch scores' default as-of.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

CommandBuilder = Callable[[Mapping[str, Any]], list[str]]

# Key of the version to deploy in the mapping a deploy step's builder gets (beside the params).
DEPLOY_VERSION = "deploy_version"
# Keys of the run's id and date (`ds`) in the mapping every builder gets (beside the params).
RUN_ID = "run_id"
RUN_DATE = "run_date"
# What stands for them in a pod rendered outside a run (a dry run of the manifest).
UNKNOWN_RUN_ID = "<run-id>"
UNKNOWN_RUN_DATE = "<run-date>"


def run_inputs(context: Mapping[str, Any] | None) -> dict[str, str]:
    """The run's id and date: its logical date's `ds`, or, for a run without a logical date
    (Airflow 3 allows a manual trigger without one), the date it was queued to run after."""
    if context is None:
        return {RUN_ID: UNKNOWN_RUN_ID, RUN_DATE: UNKNOWN_RUN_DATE}
    run_date = context.get("ds")
    if not run_date:
        after = getattr(context.get("dag_run"), "run_after", None)
        run_date = after.date().isoformat() if after is not None else UNKNOWN_RUN_DATE
    return {RUN_ID: str(context.get("run_id") or UNKNOWN_RUN_ID), RUN_DATE: str(run_date)}


def validate_command(params: Mapping[str, Any]) -> list[str]:
    return ["data", "validate", str(params["data_uri"])]


def train_command(kind: str) -> CommandBuilder:
    def build(params: Mapping[str, Any]) -> list[str]:
        command = ["train", kind, "--data", str(params["data_uri"])]
        if params.get("cutoff"):
            command += ["--cutoff", str(params["cutoff"])]
        if params.get("horizon_days") is not None:
            command += ["--horizon", str(int(params["horizon_days"]))]
        if params.get("min_absolute_margin") is not None:
            command += ["--min-absolute-margin", repr(float(params["min_absolute_margin"]))]
        if params.get("force_promote"):
            command.append("--force-promote")
        if params.get("dry_run"):
            command.append("--dry-run")
        if params.get("trigger_reason"):
            command += ["--trigger-reason", str(params["trigger_reason"])]
        return command

    return build


def monitor_command(kind: str) -> CommandBuilder:
    """`mingo monitor`: live metrics and drift, recorded in MLflow under this run's id."""

    def build(inputs: Mapping[str, Any]) -> list[str]:
        command = ["monitor", kind, "--data", str(inputs["data_uri"])]
        if inputs.get("as_of"):
            command += ["--as-of", str(inputs["as_of"])]
        return [
            *command,
            "--tolerance", repr(float(inputs["tolerance"])),
            "--drift-threshold", repr(float(inputs["drift_threshold"])),
            "--min-outcomes", str(int(inputs["min_outcomes"])),
            # The branch after it reads the result back from MLflow by this id.
            "--request-id", str(inputs[RUN_ID]),
        ]  # fmt: skip

    return build


def scores_output(scores_uri: str, kind: str, as_of: str) -> str:
    """Where the batch scores of KIND as of a date land."""
    return f"{scores_uri.rstrip('/')}/{kind}/{as_of}.parquet"


def score_command(kind: str, scores_uri: str) -> CommandBuilder:
    """`mingo score`: every customer as of the `as_of` param, else the run's date."""

    def build(inputs: Mapping[str, Any]) -> list[str]:
        as_of = str(inputs.get("as_of") or inputs[RUN_DATE])
        command = [
            "score", kind, "--data", str(inputs["data_uri"]), "--as-of", as_of,
            "--out", scores_output(scores_uri, kind, as_of),
        ]  # fmt: skip
        if inputs.get("version") is not None:
            command += ["--version", str(int(inputs["version"]))]
        return command

    return build


def roll_command(kind: str, namespace: str, timeout_s: int, *, local: bool) -> CommandBuilder:
    """`mingo deploy roll`: pin the Deployment to the promoted version and wait."""

    def build(inputs: Mapping[str, Any]) -> list[str]:
        command = ["deploy", "roll", kind, "--version", str(inputs[DEPLOY_VERSION])]
        if local:
            return [*command, "--local"]
        return [*command, "--namespace", namespace, "--timeout", str(timeout_s)]

    return build


def smoke_test_command(kind: str, namespace: str) -> CommandBuilder:
    """`mingo deploy smoke-test`: the service serves exactly the promoted version."""

    def build(inputs: Mapping[str, Any]) -> list[str]:
        return [
            "deploy", "smoke-test", kind, "--version", str(inputs[DEPLOY_VERSION]),
            "--namespace", namespace,
        ]  # fmt: skip

    return build


def rollback_command(kind: str, namespace: str, timeout_s: int, *, local: bool) -> CommandBuilder:
    """`mingo deploy rollback`: undo the promoted version (a no-op once it is undone)."""

    def build(inputs: Mapping[str, Any]) -> list[str]:
        command = ["deploy", "rollback", kind, "--version", str(inputs[DEPLOY_VERSION])]
        if local:
            return [*command, "--local"]
        return [*command, "--namespace", namespace, "--timeout", str(timeout_s)]

    return build
