"""`airflow dags test` with MINGO_RUNNER=local, end to end on this machine, twice.

Real everything: Airflow (SQLite metadata DB), the `mingo` CLI (data, train with ZenML and
MLflow, redeploy), and a throwaway BentoML service for the smoke test. The first run finds
no champion and promotes its candidate; the second trains on the same data, the candidate
does not beat the champion, and the run ends green with the reason. Before them, a run on a
broken file fails at validation, says which columns are wrong, and trains nothing.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dags.conftest import DAGS_FOLDER

BIN = Path(sys.executable).parent
DAG_ID = "mingo_retrain_binary"
RUN_ID_PATTERN = re.compile(r"run_id=(manual__[^\s,]+)")


def run(
    command: list[str], env: dict[str, str], timeout_s: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )


def task_states(airflow_home: Path, run_id: str) -> dict[str, str | None]:
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        rows = db.execute(
            "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
            (DAG_ID, run_id),
        ).fetchall()
    return dict(rows)


def run_state(airflow_home: Path, run_id: str) -> str:
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        (state,) = db.execute(
            "SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", (DAG_ID, run_id)
        ).fetchone()
    return str(state)


def dags_test(env: dict[str, str], data: Path) -> tuple[str, str]:
    """Run the DAG once; return its run id and its whole output."""
    result = run(
        [str(BIN / "airflow"), "dags", "test", DAG_ID, "-c", json.dumps({"data_uri": str(data)})],
        env,
        timeout_s=600,
    )
    output = result.stdout + result.stderr
    match = RUN_ID_PATTERN.search(output)
    assert match, output[-5000:]
    return match.group(1), output


@pytest.mark.timeout(1200)
def test_local_runner_promotes_then_explains_why_not(
    tmp_path: Path, isolated_mingo_home: Path
) -> None:
    airflow_home = tmp_path / "airflow"
    airflow_home.mkdir()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "MINGO_RUNNER": "local",
        "MINGO_HOME": str(isolated_mingo_home),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("MINGO_PREDICTION_URL", None)
    data = tmp_path / "purchases.csv"
    generated = run(
        [str(BIN / "mingo"), "data", "generate", "--customers", "400", "--seed", "5",
         "--out", str(data)],
        env, timeout_s=300,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    migrated = run([str(BIN / "airflow"), "db", "migrate"], env, timeout_s=300)
    assert migrated.returncode == 0, migrated.stderr[-3000:]

    broken = tmp_path / "broken.csv"
    # The first three columns only: nine required columns are missing.
    rows = data.read_text().splitlines()[:5]
    broken.write_text("\n".join(",".join(row.split(",")[:3]) for row in rows) + "\n")
    bad_run, bad_output = dags_test(env, broken)
    bad = task_states(airflow_home, bad_run)
    assert run_state(airflow_home, bad_run) == "failed"
    assert bad["validate_data"] == "failed"
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        (tries,) = db.execute(
            "SELECT try_number FROM task_instance WHERE run_id = ? AND task_id = 'validate_data'",
            (bad_run,),
        ).fetchone()
    assert tries == 1, "bad data is not retried"
    assert bad["retrain"] == "upstream_failed"
    # Training never ran, so nothing was redeployed and there is nothing to roll back.
    assert bad["rollback_needed"] == "skipped"
    assert bad["rollback"] == "skipped"
    assert "column 'gmv_success': rule 'column present'" in bad_output, bad_output[-5000:]

    first_run, first_output = dags_test(env, data)
    first = task_states(airflow_home, first_run)
    assert run_state(airflow_home, first_run) == "success", first_output[-8000:]
    assert first["decide"] == "success"
    assert first["redeploy"] == "success"
    assert first["smoke_test"] == "success"
    assert first["not_promoted"] == "skipped"
    assert first["rollback_needed"] == "skipped"
    assert first["rollback"] == "skipped"
    assert "promoted: mingo-binary champion None -> 1" in first_output
    assert "smoke test passed" in first_output
    assert "serves version 1" in first_output
    # One task, one subcommand, on the version decide read as promoted.
    assert "deploy roll binary --version 1 --local" in first_output
    assert "deploy smoke-test binary --version 1" in first_output
    assert "no cluster and no --base-url: nothing to roll" in first_output

    second_run, second_output = dags_test(env, data)
    second = task_states(airflow_home, second_run)
    assert run_state(airflow_home, second_run) == "success", second_output[-8000:]
    assert second["not_promoted"] == "success"
    assert second["redeploy"] == "skipped"
    assert second["smoke_test"] == "skipped"

    from mingo.config import load_settings
    from mingo.registry import CHAMPION, get_alias_version, get_version_tags
    from mingo.tracking import mlflow_client

    client = mlflow_client(load_settings())
    assert get_alias_version(client, "binary", CHAMPION) == "1"
    reason = get_version_tags(client, "binary", "2")["mingo.decision.reason"]
    assert reason
    assert f"not promoted: {reason}" in second_output
