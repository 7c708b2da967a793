"""Shape of the monitoring DAGs: tasks, branch, the trigger of the retraining DAG, schedules,
params and the monitor command a run builds.

The DAGs are built by Airflow's DagBag from the shipped dags/ folder; a run's params are
resolved by Airflow's `process_params`, as the task runner does.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import airflow.providers.cncf.kubernetes.operators.pod  # noqa: F401  (pre-imported, as the processor does)
import pytest
import yaml
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG
from airflow.sdk.exceptions import ParamValidationError
from airflow.serialization.serialized_objects import DagSerialization

from tests.dags.conftest import DAGS_FOLDER, KINDS, import_error_of, run_params

SHIPPED_CONFIG = DAGS_FOLDER / "mingo_retrain.yaml"
MONITOR_DAG_FILE = DAGS_FOLDER / "mingo_monitor.py"
EXPECTED_EDGES = {
    "monitor": {"decide_retrain"},
    "decide_retrain": {"trigger_retrain", "no_retrain"},
    "trigger_retrain": set(),
    "no_retrain": set(),
}
EXPECTED_SCHEDULES = {"binary": "0 6 * * *", "multiclass": "15 6 * * *", "clustering": "30 6 * * *"}
# What the retraining run gets: the file the monitor judged and the monitor's reason, both
# under the names of the retraining DAG's Params.
EXPECTED_CONF = {
    "data_uri": "{{ params.data_uri }}",
    "trigger_reason": "{{ ti.xcom_pull(task_ids='decide_retrain', key='trigger_reason') }}",
}
RUN_ID = "scheduled__2026-06-01T06:00:00+00:00"
DATA = "s3://mingo-data/clickbus/df_t.csv"


def load_dags(monkeypatch: pytest.MonkeyPatch, runner: str = "local", **env: str) -> dict[str, DAG]:
    monkeypatch.setenv("MINGO_RUNNER", runner)
    monkeypatch.setenv("MINGO_DATA_URI", DATA)
    for kind in KINDS:
        monkeypatch.delenv(f"MINGO_MONITOR_SCHEDULE_{kind.upper()}", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture(scope="module")
def local_dags() -> dict[str, DAG]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return load_dags(monkeypatch)


@pytest.fixture(scope="module")
def kubernetes_dags() -> dict[str, DAG]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return load_dags(monkeypatch, "kubernetes")


def import_error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    monkeypatch.setenv("MINGO_RUNNER", "local")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    errors = DagBag(dag_folder=str(DAGS_FOLDER)).import_errors
    return import_error_of(errors, MONITOR_DAG_FILE)


@pytest.mark.parametrize("kind", KINDS)
def test_monitor_then_branch_to_trigger_or_not(local_dags: dict[str, DAG], kind: str) -> None:
    dag = local_dags[f"mingo_monitor_{kind}"]
    assert {task.task_id: set(task.downstream_task_ids) for task in dag.tasks} == EXPECTED_EDGES
    decide: Any = dag.task_dict["decide_retrain"]
    assert decide.inherits_from_skipmixin, "decide_retrain is a branch"
    trigger = dag.task_dict["trigger_retrain"]
    assert isinstance(trigger, TriggerDagRunOperator)
    # The retraining DAG of the same model, which exists; started, not waited for.
    assert trigger.trigger_dag_id == f"mingo_retrain_{kind}"
    assert trigger.trigger_dag_id in local_dags
    assert trigger.wait_for_completion is False
    assert trigger.conf == EXPECTED_CONF
    assert trigger.openlineage_inject_parent_info is False
    # A retried trigger finds the run it started instead of starting a second retraining.
    assert trigger.trigger_run_id == "monitor__{{ run_id }}"
    assert trigger.skip_when_already_exists is True
    # Every conf key is a Param of the retraining DAG, so the run is validated like a form.
    assert set(EXPECTED_CONF) <= set(local_dags[trigger.trigger_dag_id].params)


@pytest.mark.parametrize("kind", KINDS)
def test_schedule_runs_and_retries(local_dags: dict[str, DAG], kind: str) -> None:
    dag = local_dags[f"mingo_monitor_{kind}"]
    assert dag.schedule == EXPECTED_SCHEDULES[kind]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert {"mingo", "monitoring", kind} <= set(dag.tags)
    assert f"mingo monitor {kind}" in (dag.doc_md or "")
    monitor = dag.task_dict["monitor"]
    assert monitor.retries == 2
    assert monitor.execution_timeout == timedelta(minutes=30)
    for task_id in ("decide_retrain", "trigger_retrain", "no_retrain"):
        assert dag.task_dict[task_id].execution_timeout == timedelta(minutes=5), task_id


def test_schedule_is_configurable_without_code(monkeypatch: pytest.MonkeyPatch) -> None:
    dags = load_dags(
        monkeypatch,
        MINGO_MONITOR_SCHEDULE_BINARY="0 */6 * * *",
        MINGO_MONITOR_SCHEDULE_CLUSTERING="none",
    )
    assert dags["mingo_monitor_binary"].schedule == "0 */6 * * *"
    assert dags["mingo_monitor_clustering"].schedule is None
    assert dags["mingo_monitor_multiclass"].schedule == EXPECTED_SCHEDULES["multiclass"]
    # The retraining DAGs keep theirs.
    assert dags["mingo_retrain_binary"].schedule == "0 3 * * 1"


def test_bad_schedule_is_reported_with_its_field(monkeypatch: pytest.MonkeyPatch) -> None:
    error = import_error(monkeypatch, MINGO_MONITOR_SCHEDULE_MULTICLASS="daily at six")
    assert "models.multiclass.monitor.schedule" in error
    assert "'daily at six' is not a cron expression" in error


def resolve(dag: DAG, **overrides: Any) -> dict[str, Any]:
    """What a trigger with these values resolves to (ParamsDict validates on assignment)."""
    params = copy.deepcopy(dag.params)
    for name, value in overrides.items():
        params[name] = value
    return params.validate()


def test_params_take_their_defaults_from_the_yaml(
    local_dags: dict[str, DAG], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dag = local_dags["mingo_monitor_binary"]
    assert set(dag.params) == {"data_uri", "as_of", "tolerance", "drift_threshold", "min_outcomes"}
    for name in dag.params:
        param = dag.params.get_param(name)
        assert param.description, name
        assert "type" in param.schema, name
    assert resolve(dag) == {
        "data_uri": DATA,
        "as_of": None,
        "tolerance": 0.05,
        "drift_threshold": 0.25,
        "min_outcomes": 100,
    }
    config = yaml.safe_load(SHIPPED_CONFIG.read_text())
    config["models"]["multiclass"]["monitor"].update(
        {"tolerance": 0.02, "drift_threshold": 0.1, "min_outcomes": 500}
    )
    path = tmp_path / "dags.yaml"
    path.write_text(yaml.safe_dump(config))
    changed = load_dags(monkeypatch, MINGO_DAGS_CONFIG=str(path))
    defaults = resolve(changed["mingo_monitor_multiclass"])
    assert (defaults["tolerance"], defaults["drift_threshold"], defaults["min_outcomes"]) == (
        0.02,
        0.1,
        500,
    )
    assert resolve(changed["mingo_monitor_binary"])["tolerance"] == 0.05


def test_a_bad_threshold_in_the_yaml_fails_the_import_with_its_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = yaml.safe_load(SHIPPED_CONFIG.read_text())
    config["models"]["clustering"]["monitor"]["tolerance"] = 1.5
    path = tmp_path / "dags.yaml"
    path.write_text(yaml.safe_dump(config))
    error = import_error(monkeypatch, MINGO_DAGS_CONFIG=str(path))
    assert "models.clustering.monitor.tolerance" in error


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("tolerance", 1.5, "is greater than the maximum of 1"),
        ("tolerance", -0.01, "is less than the minimum of 0"),
        ("drift_threshold", 0, "is less than or equal to the minimum of 0"),
        ("min_outcomes", 0, "is less than the minimum of 1"),
        ("min_outcomes", 2.5, "is not of type 'integer'"),
        ("as_of", "01/06/2026", "is not a 'date'"),
        ("data_uri", "/data/purchases.xlsx", "does not match"),
    ],
)
def test_params_reject_bad_values_naming_them(
    local_dags: dict[str, DAG], name: str, value: Any, problem: str
) -> None:
    with pytest.raises(ParamValidationError) as error:
        resolve(local_dags["mingo_monitor_binary"], **{name: value})
    assert name in str(error.value)
    assert problem in str(error.value)


def command_of_run(dag: DAG, conf: dict[str, Any] | None = None) -> list[str]:
    """The monitor step's `mingo` arguments in a run with `conf` (either runner)."""
    task: Any = dag.task_dict["monitor"]
    context = {
        "params": run_params(dag, task, conf),
        "run_id": RUN_ID,
        "ds": "2026-06-01",
    }
    if hasattr(task, "command"):  # local runner: the process's argv without the executable
        return list(task.command(context)[1:])
    return list(task.command_builder(task._inputs(context)))  # kubernetes runner: the pod args


@pytest.mark.parametrize("runner", ["local", "kubernetes"])
def test_the_run_monitors_with_its_own_id_and_the_thresholds(
    runner: str, local_dags: dict[str, DAG], kubernetes_dags: dict[str, DAG]
) -> None:
    dag = (local_dags if runner == "local" else kubernetes_dags)["mingo_monitor_multiclass"]
    assert command_of_run(dag) == [
        "monitor", "multiclass", "--data", DATA, "--tolerance", "0.05",
        "--drift-threshold", "0.25", "--min-outcomes", "100", "--request-id", RUN_ID,
    ]  # fmt: skip
    chosen = {
        "data_uri": "/data/purchases.parquet",
        "as_of": "2026-05-31",
        "tolerance": 0.1,
        "drift_threshold": 0.4,
        "min_outcomes": 20,
    }
    assert command_of_run(dag, chosen) == [
        "monitor", "multiclass", "--data", "/data/purchases.parquet", "--as-of", "2026-05-31",
        "--tolerance", "0.1", "--drift-threshold", "0.4", "--min-outcomes", "20",
        "--request-id", RUN_ID,
    ]  # fmt: skip


@pytest.mark.parametrize("runner", ["kubernetes", "local"])
def test_dags_serialize_for_the_scheduler(monkeypatch: pytest.MonkeyPatch, runner: str) -> None:
    dags = load_dags(monkeypatch, runner)
    for kind in KINDS:
        dag = dags[f"mingo_monitor_{kind}"]
        restored: Any = DagSerialization.from_dict(DagSerialization.to_dict(dag))
        assert set(restored.task_dict) == set(EXPECTED_EDGES)
        assert restored.max_active_runs == 1
        assert set(restored.params) == set(dag.params)
        trigger = restored.task_dict["trigger_retrain"]
        assert trigger.task_type == "TriggerDagRunOperator"
        # The scheduler and the UI link the two DAGs.
        assert {
            (d["source"], d["target"])
            for d in restored.dag_dependencies
            if d["dependency_type"] == "trigger"
        } == {(f"mingo_monitor_{kind}", f"mingo_retrain_{kind}")}
