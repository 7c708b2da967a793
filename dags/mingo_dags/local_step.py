"""MINGO_RUNNER=local: each step runs the same `mingo` command as a process on this machine.

The process inherits the worker's environment (MINGO_HOME, MLFLOW_TRACKING_URI, ...), its
output goes line by line into the task log, and a non-zero exit fails the task with the
last lines of output in the error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from mingo_dags.commands import DEPLOY_VERSION, CommandBuilder, run_inputs
from mingo_dags.registry_tasks import deploy_version

OUTPUT_TAIL_LINES = 30
# What a prediction pod of the pinned Deployment gets from the chart: the version it loads.
MODEL_VERSION_VARIABLE = "MINGO_MODEL_VERSION"


def mingo_executable() -> str:
    """The `mingo` next to this interpreter (a venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("mingo")
    if beside.exists():
        return str(beside)
    found = shutil.which("mingo")
    if found is None:
        raise AirflowFailException("the `mingo` command is not installed for this Python")
    return found


class MingoProcessOperator(BaseOperator):
    """Runs `mingo <args>` as a local process; args come from the run's params.

    Exit codes in `final_exit_codes` fail the task without retries (bad data stays bad).
    With `deploys_version`, the builder also gets the version this run promoted.
    """

    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        command_builder: CommandBuilder,
        final_exit_codes: Collection[int] = (),
        deploys_version: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.command_builder = command_builder
        self.final_exit_codes = frozenset(final_exit_codes)
        self.deploys_version = deploys_version

    def command(self, context: Mapping[str, Any]) -> list[str]:
        inputs: dict[str, Any] = {**run_inputs(context), **context["params"]}
        if self.deploys_version:
            inputs[DEPLOY_VERSION] = deploy_version(context)
        return [mingo_executable(), *self.command_builder(inputs)]

    def execute(self, context: Any) -> None:
        self.run_command(self.command(context), env=dict(os.environ))

    def run_command(self, command: list[str], *, env: dict[str, str]) -> None:
        self.log.info("running: %s", " ".join(command))
        tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
        with subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                line = line.rstrip("\n")
                tail.append(line)
                self.log.info("%s", line)
            code = process.wait()
        if code != 0:
            message = f"`{' '.join(command)}` exited with code {code}:\n" + "\n".join(tail)
            if code in self.final_exit_codes:
                raise AirflowFailException(message)
            raise AirflowException(message)


class LocalServiceSmokeTestOperator(MingoProcessOperator):
    """The smoke test on one machine.

    With MINGO_PREDICTION_URL set, it checks that running service. Otherwise it starts a
    throwaway `mingo serve KIND` pinned to the version this run deploys (MINGO_MODEL_VERSION,
    as a cluster pod of the pinned Deployment), runs the same smoke test command against it,
    and stops it.
    """

    def __init__(self, *, kind: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind

    def execute(self, context: Any) -> None:
        env = dict(os.environ)
        command = self.command(context)
        if env.get("MINGO_PREDICTION_URL"):
            self.run_command(command, env=env)
            return
        # Imported here: DAG files are parsed without the mingo package.
        from mingo.serving.process import LocalService, free_local_port

        with tempfile.TemporaryDirectory(prefix="mingo-smoke-") as scratch:
            service = LocalService(self.kind, free_local_port(), Path(scratch) / "serve.log")
            env["MINGO_PREDICTION_URL"] = service.url
            pinned = {**env, MODEL_VERSION_VARIABLE: deploy_version(context)}
            self.log.info(
                "starting a throwaway `mingo serve %s` pinned to version %s for the smoke test",
                self.kind,
                pinned[MODEL_VERSION_VARIABLE],
            )
            service.start(pinned)
            try:
                self.run_command([*command, "--ready-timeout", "180"], env=env)
            except AirflowException:
                tail = service.log_tail(OUTPUT_TAIL_LINES)
                self.log.error("log of `mingo serve %s`:\n%s", self.kind, tail)
                raise
            finally:
                service.stop()
