"""Helpers for running `mingo` as a real process, the way a container or Airflow runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from mingo.data.generate import generate_purchases

MINGO = [str(Path(sys.executable).parent / "mingo")]
REPO_ROOT = Path(__file__).resolve().parents[2]
# Small enough for seconds of training, large enough for a stable 30-day holdout.
TEST_CUSTOMERS = 2000
TEST_SEED = 3


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The test process's environment without any MLflow/ZenML/S3 setting, plus `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLFLOW_", "ZENML_", "AWS_", "MINGO_"))
    }
    env.update(
        MINGO_HOME=str(home),
        # One OpenMP thread per process: the tests share two cores with other processes.
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(REPO_ROOT),
    )
    env.update(extra)
    return env


def run_mingo(
    args: list[str], env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MINGO, *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def last_json_line(result: subprocess.CompletedProcess[str]) -> Any:
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, f"no stdout; stderr:\n{result.stderr[-3000:]}"
    return json.loads(lines[-1])


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"exit {result.returncode}\nstdout tail:\n{result.stdout[-2000:]}\n"
        f"stderr tail:\n{result.stderr[-3000:]}"
    )


def write_purchases_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


def small_purchases() -> pd.DataFrame:
    return generate_purchases(customers=TEST_CUSTOMERS, seed=TEST_SEED)
