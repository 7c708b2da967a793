"""`mingo airflow` as a user runs it: up with the defaults, a task running, then Ctrl-C.

The command starts on a port of its own with MINGO_HOME in a temporary directory and its
default database (a PostgreSQL cluster of its own where the server binaries are installed).
The test unpauses the clustering DAG, which starts its latest scheduled run at once on the
default data (the generated demo file), waits until that run passed validate_data and its
`mingo train` process runs under a LocalExecutor worker, records every process of the stack, and
sends SIGINT to `mingo airflow` alone, as the terminal's Ctrl-C does (the components run in
sessions of their own). Afterwards none of the recorded processes, nor any process carrying
the stack's marker, is alive, and the PostgreSQL cluster is stopped.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mingo.local_airflow import (
    POSTGRES_DIRNAME,
    STACK_MARKER_VARIABLE,
    LocalPostgres,
    postgres_bin_dir,
)
from tests.airflow.rest import AirflowRest
from tests.fixtures.services import distinct_free_ports

pytestmark = pytest.mark.services

BIN = Path(sys.executable).parent
DAG_ID = "mingo_retrain_clustering"
READY_LINE = "Ctrl-C stops it."
LOGIN_LINE = re.compile(r"login:\s+(\S+) / (\S+)")
START_TIMEOUT_S = 420
STOP_TIMEOUT_S = 120
RUN_STEP_TIMEOUT_S = 300
DROPPED_PREFIXES = ("AIRFLOW", "MINGO_", "MLFLOW_", "ZENML_", "AWS_")


def processes_of_stack(airflow_home: Path, port: int) -> list[psutil.Process]:
    """Processes carrying the marker with this AIRFLOW_HOME, and the API server of `port`.

    The API server renames itself (setproctitle), which overwrites what /proc shows of its
    environment, so it is recognised by its title instead.
    """
    found = []
    for process in psutil.process_iter():
        try:
            if f"port:{port}" in " ".join(process.cmdline()):
                found.append(process)
                continue
            env = process.environ()
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        if STACK_MARKER_VARIABLE in env and env.get("AIRFLOW_HOME") == str(airflow_home):
            found.append(process)
    return found


def command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline()[:4])
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return ""


def wait_for_first_run(rest: AirflowRest) -> str:
    deadline = time.monotonic() + RUN_STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        runs = rest.json("GET", f"/api/v2/dags/{DAG_ID}/dagRuns")["dag_runs"]
        if runs:
            return str(runs[0]["dag_run_id"])
        time.sleep(1)
    raise AssertionError(f"unpausing {DAG_ID} started no run in {RUN_STEP_TIMEOUT_S} s")


def wait_for_output(output: Path, process: subprocess.Popen[bytes], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = output.read_text(errors="replace")
        if READY_LINE in text:
            return text
        assert process.poll() is None, f"mingo airflow exited {process.returncode}:\n{text}"
        time.sleep(0.5)
    raise AssertionError(f"mingo airflow not ready in {timeout_s} s:\n{output.read_text()}")


@pytest.mark.timeout(900)
def test_ctrl_c_stops_every_process_of_mingo_airflow(tmp_path: Path) -> None:
    mingo_home = tmp_path / "mingo-home"
    airflow_home = mingo_home / "airflow"
    port, _ = distinct_free_ports(2)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(DROPPED_PREFIXES)},
        "MINGO_HOME": str(mingo_home),
        "ZENML_ANALYTICS_OPT_IN": "false",
    }
    output = tmp_path / "mingo-airflow.out"
    with output.open("wb") as out:
        command = subprocess.Popen(
            [str(BIN / "mingo"), "airflow", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    postgres = LocalPostgres(airflow_home / POSTGRES_DIRNAME, postgres_bin_dir() or Path("/"))
    try:
        text = wait_for_output(output, command, START_TIMEOUT_S)
        login = LOGIN_LINE.search(text)
        assert login, text
        assert f"http://127.0.0.1:{port}" in text
        expected_database = "postgresql" if postgres_bin_dir() else "sqlite"
        assert f"on {expected_database}" in text, text
        rest = AirflowRest(f"http://127.0.0.1:{port}", login.group(1), login.group(2))
        rest.wait_for_dags([DAG_ID])
        # Unpausing starts the latest scheduled run at once, on the default data: the
        # generated demo file, so it gets past validate_data.
        rest.set_paused(DAG_ID, False)
        run_id = wait_for_first_run(rest)
        assert run_id.startswith("scheduled__"), run_id
        rest.wait_for_task_state(DAG_ID, run_id, "retrain", {"running"}, RUN_STEP_TIMEOUT_S)
        assert rest.task_states(DAG_ID, run_id)["validate_data"] == "success"
        rest.close()

        deadline = time.monotonic() + RUN_STEP_TIMEOUT_S
        while True:  # the task is running a moment before its `mingo train` process is
            stack = processes_of_stack(airflow_home, port)
            names = " ".join(command_line(p) for p in stack)
            if "mingo train" in names or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        for component in ("api_server", "scheduler", "dag-processor", "triggerer", "mingo train"):
            assert component in names, names
        os.kill(command.pid, signal.SIGINT)
        assert command.wait(timeout=STOP_TIMEOUT_S) == 0, output.read_text()[-3000:]
        survivors = [p for p in stack if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert survivors == [], [p.cmdline() for p in survivors]
        assert processes_of_stack(airflow_home, port) == []
        assert "stopped: no Airflow process is left" in output.read_text()
        if expected_database == "postgresql":
            assert not (postgres.data_dir / "postmaster.pid").exists(), "PostgreSQL stopped"
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)
        for leftover in processes_of_stack(airflow_home, port):
            leftover.kill()
        if postgres_bin_dir():
            postgres.stop()
            if not postgres.root.is_relative_to(tmp_path):
                shutil.rmtree(postgres.root, ignore_errors=True)
                shutil.rmtree(postgres.socket_dir, ignore_errors=True)
