"""The `mingo` command lines the DAG steps run, built from a run's params.

Both runners execute exactly these argument lists (as a pod's args or a local process), so
a DAG behaves the same on a laptop and in the cluster. Optional flags appear only when their
param is set, which is why the lists are built in Python rather than templated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

CommandBuilder = Callable[[Mapping[str, Any]], list[str]]


def validate_command(params: Mapping[str, Any]) -> list[str]:
    return ["data", "validate", str(params["data_uri"])]


def train_command(kind: str) -> CommandBuilder:
    def build(params: Mapping[str, Any]) -> list[str]:
        command = ["train", kind, "--data", str(params["data_uri"])]
        if params.get("cutoff"):
            command += ["--cutoff", str(params["cutoff"])]
        if params.get("horizon_days") is not None:
            command += ["--horizon", str(int(params["horizon_days"]))]
        if params.get("promotion_margin") is not None:
            command += ["--margin", repr(float(params["promotion_margin"]))]
        if params.get("force_promote"):
            command.append("--force-promote")
        if params.get("dry_run"):
            command.append("--dry-run")
        return command

    return build


def redeploy_command(kind: str, namespace: str, timeout_s: int, *, local: bool) -> CommandBuilder:
    def build(params: Mapping[str, Any]) -> list[str]:
        if local:
            return ["redeploy", kind, "--local"]
        return [
            "redeploy",
            kind,
            "--namespace",
            namespace,
            "--timeout",
            str(timeout_s),
            "--skip-smoke-test",
        ]

    return build


def smoke_test_command(kind: str, namespace: str) -> CommandBuilder:
    def build(params: Mapping[str, Any]) -> list[str]:
        return ["redeploy", kind, "--namespace", namespace, "--smoke-test-only"]

    return build


def rollback_command(kind: str, namespace: str, timeout_s: int, *, local: bool) -> CommandBuilder:
    def build(params: Mapping[str, Any]) -> list[str]:
        if local:
            return ["redeploy", kind, "--rollback", "--local"]
        return [
            "redeploy",
            kind,
            "--namespace",
            namespace,
            "--timeout",
            str(timeout_s),
            "--rollback",
        ]

    return build
