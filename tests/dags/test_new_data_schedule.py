"""Data-aware scheduling: cron OR the purchases asset, and the run trains on the landed file.

The DAGs are built by Airflow's DagBag from the shipped dags/ folder; a run's context is made
of Airflow's own objects (the params resolved by `process_params` as the task runner does, the
triggering events as `TriggeringAssetEventsAccessor`), and the task's pre_execute hook runs
through Airflow's executable runner, as the task runner runs it before `execute`.

The DAG file's provider import is done at collection, as the DAG processor pre-imports it:
on a loaded machine its first import alone can pass DagBag's 30 s import timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import airflow.providers.cncf.kubernetes.operators.pod  # noqa: F401
import pytest
import yaml
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronTriggerTimetable
from airflow.sdk.api.datamodels._generated import AssetReferenceAssetEventDagRun
from airflow.sdk.definitions.param import process_params
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.execution_time.callback_runner import create_executable_runner
from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
from airflow.sdk.execution_time.context import (
    OutletEventAccessors,
    TriggeringAssetEventsAccessor,
)
from airflow.serialization.serialized_objects import DagSerialization

from tests.dags.conftest import AIRFLOW_ENV, DAGS_FOLDER, KINDS, import_error_of
from tests.dags.test_dag_parsing import HEAVY_MODULES, PARSE_BUDGET_S, PARSE_SCRIPT, dag_files_arg
from tests.dags.test_dag_structure import EXPECTED_SCHEDULES

SHIPPED_CONFIG = DAGS_FOLDER / "mingo_retrain.yaml"
ASSET_NAME = "mingo_purchases"
# Airflow (the amazon provider's s3 URI normalizer) stores the configured prefix without its `/`.
ASSET_URI = "s3://mingo-data/clickbus"
LANDED = "s3://mingo-data/clickbus/2026-06-01.csv"
STEPS_READING_DATA = ("validate_data", "retrain")


def load_dags(monkeypatch: pytest.MonkeyPatch, runner: str = "local", **env: str) -> dict[str, DAG]:
    monkeypatch.setenv("MINGO_RUNNER", runner)
    for kind in KINDS:
        monkeypatch.delenv(f"MINGO_RETRAIN_ON_NEW_DATA_{kind.upper()}", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    return bag.dags


def import_error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    monkeypatch.setenv("MINGO_RUNNER", "local")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return import_error_of(DagBag(dag_folder=str(DAGS_FOLDER)).import_errors)


@pytest.fixture(scope="module")
def multiclass_on() -> dict[str, DAG]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return load_dags(monkeypatch, MINGO_RETRAIN_ON_NEW_DATA_MULTICLASS="true")


def test_shipped_config_has_it_off_for_every_model() -> None:
    shipped = yaml.safe_load(SHIPPED_CONFIG.read_text())
    assert shipped["purchases_asset"] == {"name": ASSET_NAME, "uri": ASSET_URI + "/"}
    assert {kind: model["on_new_data"] for kind, model in shipped["models"].items()} == {
        kind: False for kind in KINDS
    }


@pytest.mark.parametrize("env", [{}, {"MINGO_RETRAIN_ON_NEW_DATA_MULTICLASS": "false"}])
def test_off_the_schedule_is_the_cron_alone(monkeypatch: pytest.MonkeyPatch, env: dict) -> None:
    dags = load_dags(monkeypatch, **env)
    for kind in KINDS:
        dag = dags[f"mingo_retrain_{kind}"]
        assert dag.schedule == EXPECTED_SCHEDULES[kind]
        assert type(dag.timetable) is CronTriggerTimetable
        for task_id in STEPS_READING_DATA:
            assert dag.task_dict[task_id]._pre_execute_hook is None
        assert "not on new data" in (dag.doc_md or "")


def test_on_the_schedule_is_cron_or_the_purchases_asset(multiclass_on: dict[str, DAG]) -> None:
    dag = multiclass_on["mingo_retrain_multiclass"]
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert dag.timetable.asset_condition == Asset(name=ASSET_NAME, uri=ASSET_URI)
    cron = dag.timetable.timetable
    assert isinstance(cron, CronTriggerTimetable)
    # Same cron, same zone as the plain string gives (the binary DAG's cron is still a string).
    plain = multiclass_on["mingo_retrain_binary"].timetable
    assert (cron.expression, cron.timezone) == ("0 4 * * 1", plain.timezone)
    assert f"asset `{ASSET_NAME}`" in (dag.doc_md or "")
    for kind in ("binary", "clustering"):
        assert multiclass_on[f"mingo_retrain_{kind}"].schedule == EXPECTED_SCHEDULES[kind]


def test_the_scheduler_reads_the_same_schedule(multiclass_on: dict[str, DAG]) -> None:
    """What the DAG processor stores and the scheduler deserializes: cron or asset."""
    dag = multiclass_on["mingo_retrain_multiclass"]
    stored: Any = DagSerialization.from_dict(json.loads(json.dumps(DagSerialization.to_dict(dag))))
    timetable = stored.timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert timetable.summary == "Asset or 0 4 * * 1"
    assert timetable.can_be_scheduled
    (dependency,) = [d for d in stored.dag_dependencies if d["dependency_type"] == "asset"]
    assert dependency["target"] == "mingo_retrain_multiclass"
    assert json.loads(dependency["dependency_id"]) == {"name": ASSET_NAME, "uri": ASSET_URI}


def test_on_without_cron_runs_on_new_data_only(monkeypatch: pytest.MonkeyPatch) -> None:
    dags = load_dags(
        monkeypatch,
        MINGO_RETRAIN_ON_NEW_DATA_CLUSTERING="true",
        MINGO_RETRAIN_SCHEDULE_CLUSTERING="none",
    )
    assert dags["mingo_retrain_clustering"].schedule == Asset(name=ASSET_NAME, uri=ASSET_URI)


def test_asset_and_switch_come_from_the_yaml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = yaml.safe_load(SHIPPED_CONFIG.read_text())
    config["purchases_asset"] = {"name": "landed_orders", "uri": "s3://orders-bucket/landed/"}
    config["models"]["binary"]["on_new_data"] = True
    path = tmp_path / "retrain.yaml"
    path.write_text(yaml.safe_dump(config))
    dags = load_dags(monkeypatch, MINGO_DAGS_CONFIG=str(path))
    binary: Any = dags["mingo_retrain_binary"]
    assert binary.timetable.asset_condition == Asset(
        name="landed_orders", uri="s3://orders-bucket/landed"
    )
    assert binary.timetable.timetable.expression == "0 3 * * 1"
    assert dags["mingo_retrain_multiclass"].schedule == EXPECTED_SCHEDULES["multiclass"]


def test_a_bad_switch_is_reported_with_its_field(monkeypatch: pytest.MonkeyPatch) -> None:
    error = import_error(monkeypatch, MINGO_RETRAIN_ON_NEW_DATA_MULTICLASS="sometimes")
    assert "models.multiclass.on_new_data" in error


def test_a_preset_that_is_no_cron_cannot_be_combined(monkeypatch: pytest.MonkeyPatch) -> None:
    error = import_error(
        monkeypatch,
        MINGO_RETRAIN_ON_NEW_DATA_MULTICLASS="true",
        MINGO_RETRAIN_SCHEDULE_MULTICLASS="@once",
    )
    assert "on_new_data needs a cron schedule or none, not '@once'" in error


def test_parsing_stays_fast_and_light_with_the_asset_schedule() -> None:
    env = {
        **os.environ,
        **AIRFLOW_ENV,
        "MINGO_RUNNER": "kubernetes",
        **{f"MINGO_RETRAIN_ON_NEW_DATA_{kind.upper()}": "true" for kind in KINDS},
    }
    result = subprocess.run(
        [sys.executable, "-c", PARSE_SCRIPT, dag_files_arg(), str(DAGS_FOLDER),
         ",".join(HEAVY_MODULES)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}
    assert report["stats"] and sum(report["stats"]) < PARSE_BUDGET_S, report
    assert report["heavy"] == [], f"parsing imported {report['heavy']}"


# --- The run: the command of a step in a run the asset triggered -----------------------------


def event(
    extra: dict[str, Any], *, minutes_ago: int = 0, asset: tuple[str, str] = (ASSET_NAME, ASSET_URI)
) -> AssetEventDagRunReferenceResult:
    """An event as the execution API hands it to a task (what POST /assets/events records)."""
    return AssetEventDagRunReferenceResult(
        asset=AssetReferenceAssetEventDagRun(name=asset[0], uri=asset[1], extra={}),
        extra={**extra, "from_rest_api": True},
        source_task_id=None,
        source_dag_id=None,
        source_run_id=None,
        source_map_index=None,
        source_aliases=[],
        timestamp=datetime(2026, 6, 1, 12, tzinfo=UTC) - timedelta(minutes=minutes_ago),
    )


def run_context(
    dag: DAG, task_id: str, events: list[AssetEventDagRunReferenceResult], conf: dict | None = None
) -> dict[str, Any]:
    task = dag.task_dict[task_id]
    return {
        "dag": dag,
        "task": task,
        "params": process_params(dag, task, conf, suppress_exception=False),
        "triggering_asset_events": TriggeringAssetEventsAccessor.build(events),
    }


def command_of_run(dag: DAG, task_id: str, context: dict[str, Any]) -> list[str]:
    """The step's command after its pre_execute hook ran, as the task runner orders them."""
    task: Any = dag.task_dict[task_id]
    if task._pre_execute_hook is not None:
        outlets = OutletEventAccessors()
        create_executable_runner(task._pre_execute_hook, outlets, logger=task.log).run(context)
    if hasattr(task, "command"):  # local runner: the process's argv without the executable
        return list(task.command(context)[1:])
    return list(task.command_builder(task._inputs(context)))  # kubernetes runner: the pod args


@pytest.fixture(scope="module")
def multiclass_on_in_pods() -> dict[str, DAG]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return load_dags(monkeypatch, "kubernetes", MINGO_RETRAIN_ON_NEW_DATA_MULTICLASS="true")


@pytest.mark.parametrize("runner", ["local", "kubernetes"])
def test_a_run_the_asset_triggered_trains_on_the_landed_file(
    runner: str,
    multiclass_on: dict[str, DAG],
    multiclass_on_in_pods: dict[str, DAG],
) -> None:
    dag = (multiclass_on if runner == "local" else multiclass_on_in_pods)[
        "mingo_retrain_multiclass"
    ]
    default = dag.params["data_uri"]
    assert default != LANDED
    landed = [event({"data_uri": LANDED})]
    validate = command_of_run(dag, "validate_data", run_context(dag, "validate_data", landed))
    retrain = command_of_run(dag, "retrain", run_context(dag, "retrain", landed))
    assert validate == ["data", "validate", LANDED]
    assert retrain[:4] == ["train", "multiclass", "--data", LANDED]
    # The same run without the event (a cron run) trains on the default.
    scheduled = command_of_run(dag, "retrain", run_context(dag, "retrain", []))
    assert scheduled[:4] == ["train", "multiclass", "--data", default]


def test_several_events_the_newest_file_wins(multiclass_on: dict[str, DAG]) -> None:
    dag = multiclass_on["mingo_retrain_multiclass"]
    newest = "s3://mingo-data/clickbus/2026-06-02.parquet"
    events = [
        event({"data_uri": LANDED}, minutes_ago=30),
        event({"data_uri": newest}, minutes_ago=1),
        event({}, minutes_ago=0),  # no file named: does not hide the others
        event({"data_uri": "s3://elsewhere/other.csv"}, asset=("other", "s3://elsewhere")),
    ]
    context = run_context(dag, "validate_data", events)
    assert command_of_run(dag, "validate_data", context) == ["data", "validate", newest]


def test_an_event_without_a_file_keeps_the_default(multiclass_on: dict[str, DAG]) -> None:
    dag = multiclass_on["mingo_retrain_multiclass"]
    context = run_context(dag, "validate_data", [event({"rows": 120})])
    assert command_of_run(dag, "validate_data", context) == [
        "data", "validate", dag.params["data_uri"],
    ]  # fmt: skip


def test_a_manual_run_keeps_its_conf(multiclass_on: dict[str, DAG]) -> None:
    dag = multiclass_on["mingo_retrain_multiclass"]
    chosen = "/data/purchases.csv"
    context = run_context(dag, "retrain", [], conf={"data_uri": chosen})
    assert command_of_run(dag, "retrain", context)[:4] == ["train", "multiclass", "--data", chosen]


def test_a_landed_file_the_form_refuses_fails_without_retry(multiclass_on: dict[str, DAG]) -> None:
    dag = multiclass_on["mingo_retrain_multiclass"]
    context = run_context(dag, "validate_data", [event({"data_uri": "s3://mingo-data/x.xlsx"})])
    with pytest.raises(AirflowFailException, match=r"'s3://mingo-data/x.xlsx'.*does not match"):
        command_of_run(dag, "validate_data", context)


# --- Option (b): an AssetWatcher on the S3 prefix --------------------------------------------


def test_an_s3_key_trigger_cannot_watch_an_asset() -> None:
    """Why there is no S3 watcher: the amazon provider's S3 triggers are sensor triggers (they
    fire once, for a sensor), and Airflow only lets event triggers watch an asset. Its SQS
    trigger is one (S3 bucket notifications -> SQS -> watcher), which needs an SQS queue."""
    from airflow.providers.amazon.aws.triggers.s3 import S3KeysUnchangedTrigger, S3KeyTrigger
    from airflow.providers.amazon.aws.triggers.sqs import SqsSensorTrigger
    from airflow.sdk import AssetWatcher

    for trigger in (
        S3KeyTrigger(bucket_name="mingo-data", bucket_key="clickbus/*.csv", wildcard_match=True),
        S3KeysUnchangedTrigger(bucket_name="mingo-data", prefix="clickbus/"),
    ):
        with pytest.raises(ValueError, match="must inherit BaseEventTrigger"):
            AssetWatcher(name="purchases_landed", trigger=trigger)
    queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/mingo-purchases"
    watcher = AssetWatcher(name="purchases_landed", trigger=SqsSensorTrigger(sqs_queue=queue))
    assert Asset(name=ASSET_NAME, uri=ASSET_URI, watchers=[watcher]).watchers == [watcher]
