"""New purchase data runs the multiclass retraining: an asset event posted through the REST API.

Automation that lands a file posts `POST /api/v2/assets/events` for the purchases asset with
`extra: {"data_uri": <the file>}`; the real scheduler creates a `mingo_retrain_multiclass` run
(run type `asset_triggered`), and the run validates and trains on that file, not on the
default `MINGO_DATA_URI`: the task logs show the commands, the registry the version's data
(the run is ended after `retrain`: redeploy and smoke test are not what this test is about).

`on_new_data` is off as shipped. The stack turns it on for multiclass with
`MINGO_RETRAIN_ON_NEW_DATA_MULTICLASS=true`; where the stack's environment does not carry it,
this test switches it on in the stack's own DAG configuration file (a temporary copy the
fixture wrote) and waits for the DAG processor to re-parse, then puts the file back.

The cron half is live too: the DAG starts in 2026 without catch-up, so unpausing it makes the
scheduler start the latest due cron run (run type `scheduled`) at once. With one active run
per DAG, that run would hold the asset-triggered one back for a whole retraining: the test
marks it failed through the API, as a user would in the UI.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from mingo.tracking import mlflow_client
from tests.airflow.conftest import INHERITED_PREFIXES_DROPPED, AirflowStackHandle, generate_data
from tests.airflow.rest import AirflowRest, AirflowRestError

pytestmark = pytest.mark.services

DAG_ID = "mingo_retrain_multiclass"
KIND = "multiclass"
ASSET_NAME = "mingo_purchases"
ASSET_URI = "s3://mingo-data/clickbus"
ON_NEW_DATA_VARIABLE = "MINGO_RETRAIN_ON_NEW_DATA_MULTICLASS"
ASSET_SCHEDULE_SUMMARY = "Asset or 0 4 * * 1"
# The DAG processor re-parses a file every min_file_process_interval (30 s) and the parse may
# take tens of seconds on a loaded machine.
REPARSE_TIMEOUT_S = 240
RUN_CREATED_TIMEOUT_S = 120
RUN_TIMEOUT_S = 600
POLL_S = 2.0
CRON_WEEKDAY_HOUR = (0, 4)  # "0 4 * * 1": Mondays (weekday 0) at 04:00 UTC


def wait_for_summary(rest: AirflowRest, summary: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    seen = None
    while time.monotonic() < deadline:
        seen = rest.dag(DAG_ID).get("timetable_summary")
        if seen == summary:
            return
        time.sleep(POLL_S)
    raise AirflowRestError(f"{DAG_ID} schedule is {seen!r}, not {summary!r}, after {timeout_s} s")


@pytest.fixture(scope="module")
def multiclass_on_new_data(
    airflow_stack: AirflowStackHandle, airflow_rest: AirflowRest
) -> Iterator[None]:
    """The multiclass DAG scheduled on cron OR the purchases asset, unpaused."""
    config_file = Path(airflow_stack.mingo_env["MINGO_DAGS_CONFIG"])
    original = config_file.read_text()
    switched = airflow_stack.mingo_env.get(ON_NEW_DATA_VARIABLE, "").lower() != "true"
    if switched:
        config = yaml.safe_load(original)
        config["models"][KIND]["on_new_data"] = True
        config_file.write_text(yaml.safe_dump(config))
    try:
        wait_for_summary(airflow_rest, ASSET_SCHEDULE_SUMMARY, REPARSE_TIMEOUT_S)
        due = datetime.fromisoformat(airflow_rest.dag(DAG_ID)["next_dagrun_run_after"])
        assert (due.weekday(), due.hour, due.minute) == (*CRON_WEEKDAY_HOUR, 0)
        airflow_rest.set_paused(DAG_ID, False)
        if due <= datetime.now(UTC):
            fail_the_due_cron_run(airflow_rest)
        yield
    finally:
        airflow_rest.set_paused(DAG_ID, True)
        if switched:
            config_file.write_text(original)


def runs_of_type(rest: AirflowRest, run_type: str) -> list[dict[str, Any]]:
    body = rest.json("GET", f"/api/v2/dags/{DAG_ID}/dagRuns", params={"run_type": run_type})
    runs: list[dict[str, Any]] = body["dag_runs"]
    return runs


def fail_the_due_cron_run(rest: AirflowRest) -> None:
    """Wait for the cron run unpausing starts, and mark it failed (it frees the one slot)."""
    deadline = time.monotonic() + RUN_CREATED_TIMEOUT_S
    while not (scheduled := runs_of_type(rest, "scheduled")):
        if time.monotonic() > deadline:
            raise AirflowRestError(f"unpausing {DAG_ID} started no cron run")
        time.sleep(POLL_S)
    for run in scheduled:
        if run["state"] not in ("success", "failed"):
            path = f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run['dag_run_id'], safe='')}"
            rest.json("PATCH", path, json={"state": "failed"})


def purchases_asset_id(rest: AirflowRest) -> int:
    body = rest.json("GET", "/api/v2/assets", params={"name_pattern": ASSET_NAME})
    (asset,) = [asset for asset in body["assets"] if asset["name"] == ASSET_NAME]
    assert asset["uri"] == ASSET_URI
    assert DAG_ID in {ref["dag_id"] for ref in asset["scheduled_dags"]}
    return int(asset["id"])


def asset_triggered_runs(rest: AirflowRest) -> list[dict[str, Any]]:
    return runs_of_type(rest, "asset_triggered")


def wait_for_new_run(rest: AirflowRest, known: set[str], timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        new = [run for run in asset_triggered_runs(rest) if run["dag_run_id"] not in known]
        if new:
            (run,) = new
            return run
        time.sleep(POLL_S)
    raise AirflowRestError(f"no asset-triggered run of {DAG_ID} after {timeout_s} s")


def test_an_asset_event_runs_the_retraining_on_the_landed_file(
    airflow_stack: AirflowStackHandle,
    airflow_rest: AirflowRest,
    multiclass_on_new_data: None,
    tmp_path: Path,
) -> None:
    landed = tmp_path / "purchases-landed.csv"
    own = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES_DROPPED)}
    generate_data(landed, {**own, **airflow_stack.mingo_env})
    assert str(landed) != airflow_stack.data_uri
    asset_id = purchases_asset_id(airflow_rest)
    known = {run["dag_run_id"] for run in asset_triggered_runs(airflow_rest)}

    posted = airflow_rest.json(
        "POST",
        "/api/v2/assets/events",
        json={"asset_id": asset_id, "extra": {"data_uri": str(landed)}},
    )
    assert posted["extra"]["data_uri"] == str(landed)

    run = wait_for_new_run(airflow_rest, known, RUN_CREATED_TIMEOUT_S)
    run_id = run["dag_run_id"]
    assert run["run_type"] == "asset_triggered"
    consumed = airflow_rest.json(
        "GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/upstreamAssetEvents"
    )["asset_events"]
    assert [event["id"] for event in consumed] == [posted["id"]]

    airflow_rest.wait_for_task_state(
        DAG_ID, run_id, "validate_data", {"success", "failed"}, RUN_TIMEOUT_S
    )
    validate_log = airflow_rest.task_log(DAG_ID, run_id, "validate_data", 1)
    assert f"data_uri = {landed}" in validate_log, validate_log[-3000:]
    assert f"data validate {landed}" in validate_log, validate_log[-3000:]
    assert airflow_stack.data_uri not in validate_log

    retrained = airflow_rest.wait_for_task_state(
        DAG_ID, run_id, "retrain", {"success", "failed"}, RUN_TIMEOUT_S
    )
    retrain_log = airflow_rest.task_log(DAG_ID, run_id, "retrain", 1)
    assert retrained == "success", retrain_log[-3000:]
    assert f"train {KIND} --data {landed}" in retrain_log, retrain_log[-3000:]

    # The registry says which data the version this run registered was trained on.
    client = mlflow_client(airflow_stack.settings())
    versions = client.search_model_versions(f"name='mingo-{KIND}'")
    newest = max(versions, key=lambda version: int(version.version))
    assert newest.tags["mingo.data.uri"] == str(landed)
    assert newest.run_id is not None
    assert client.get_run(newest.run_id).data.params["data_uri"] == str(landed)

    # The redeploy and smoke test that follow are the scheduler tests' business (binary); this
    # run is ended here, as a user would mark it failed, to spare the suite minutes.
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}"
    airflow_rest.json("PATCH", path, json={"state": "failed"})
