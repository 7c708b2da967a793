"""The `mingo` command lines the DAG steps run, built from a run's params.

Both runners execute exactly these argument lists (as a pod's args or a local process), so
a DAG behaves the same on a laptop and in the cluster. Optional flags appear only when their
param is set, which is why the lists are built in Python rather than templated.

The deploy steps map one task to one `mingo deploy` subcommand, each told the version this
run promoted: the `decide` task records it, and the step's operator adds it to the mapping
its builder gets under `DEPLOY_VERSION` when the task starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

CommandBuilder = Callable[[Mapping[str, Any]], list[str]]

# Key of the version to deploy in the mapping a deploy step's builder gets (beside the params).
DEPLOY_VERSION = "deploy_version"


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
