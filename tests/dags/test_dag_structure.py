"""Shape of the retraining DAGs: tasks, wiring, schedule, retries, params and their checks."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import DAG
from airflow.sdk.exceptions import ParamValidationError

from tests.dags.conftest import DAGS_FOLDER, KINDS, import_error_of

EXPECTED_EDGES = {
    "validate_data": {"champion_before"},
    "champion_before": {"retrain", "decide"},
    "retrain": {"decide"},
    "decide": {"redeploy", "not_promoted"},
    "redeploy": {"smoke_test", "rollback_needed"},
    "smoke_test": {"rollback_needed"},
    "rollback_needed": {"rollback"},
    "rollback": {"fail_after_rollback"},
    "not_promoted": set(),
    "fail_after_rollback": set(),
}
EXPECTED_SCHEDULES = {"binary": "0 3 * * 1", "multiclass": "0 4 * * 1", "clustering": "0 5 1 * *"}


def load_dags(monkeypatch: pytest.MonkeyPatch, runner: str, **env: str) -> dict[str, DAG]:
    monkeypatch.setenv("MINGO_RUNNER", runner)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture(scope="module")
def local_dags() -> dict[str, DAG]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return load_dags(monkeypatch, "local")


def test_every_text_param_can_be_left_as_the_trigger_form_shows_it(
    local_dags: dict[str, DAG],
) -> None:
    # The UI's trigger form counts an empty text field as missing when its type has no null,
    # and keeps the Trigger button disabled: an optional text Param must allow null.
    for dag_id, dag in local_dags.items():
        for name in dag.params:
            schema = dag.params.get_param(name).schema
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if "string" in types and "null" not in types:
                assert dag.params[name], f"{dag_id}: {name} is required text with no default"


@pytest.mark.parametrize("kind", KINDS)
def test_tasks_and_dependencies(local_dags: dict[str, DAG], kind: str) -> None:
    dag = local_dags[f"mingo_retrain_{kind}"]
    edges = {task.task_id: set(task.downstream_task_ids) for task in dag.tasks}
    assert edges == EXPECTED_EDGES
    assert dag.task_dict["rollback_needed"].trigger_rule == "one_failed"


@pytest.mark.parametrize("kind", KINDS)
def test_schedule_runs_and_retries(local_dags: dict[str, DAG], kind: str) -> None:
    dag = local_dags[f"mingo_retrain_{kind}"]
    assert dag.schedule == EXPECTED_SCHEDULES[kind]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.dagrun_timeout == timedelta(hours=10)
    assert {"mingo", "retraining", kind} <= set(dag.tags)
    assert dag.owner == "mingo"
    assert f"mingo train {kind}" in (dag.doc_md or "")
    validate = dag.task_dict["validate_data"]
    assert validate.retries == 2
    assert validate.retry_exponential_backoff == 2.0
    assert validate.retry_delay == timedelta(minutes=2)
    assert validate.max_retry_delay == timedelta(minutes=30)
    assert validate.execution_timeout == timedelta(minutes=15)
    retrain = dag.task_dict["retrain"]
    assert retrain.retries == 1
    assert retrain.execution_timeout >= timedelta(hours=1)
    # A rollback must never run twice: a second one would walk back one version too far.
    assert dag.task_dict["rollback"].retries == 0


def test_schedule_is_configurable_without_code(monkeypatch: pytest.MonkeyPatch) -> None:
    dags = load_dags(
        monkeypatch,
        "local",
        MINGO_RETRAIN_SCHEDULE_BINARY="30 2 * * *",
        MINGO_RETRAIN_SCHEDULE_CLUSTERING="none",
    )
    assert dags["mingo_retrain_binary"].schedule == "30 2 * * *"
    assert dags["mingo_retrain_clustering"].schedule is None
    assert dags["mingo_retrain_multiclass"].schedule == EXPECTED_SCHEDULES["multiclass"]


def test_bad_schedule_is_reported_with_its_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINGO_RUNNER", "local")
    monkeypatch.setenv("MINGO_RETRAIN_SCHEDULE_MULTICLASS", "every monday")
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    error = import_error_of(bag.import_errors)
    assert "models.multiclass.schedule" in error
    assert "'every monday' is not a cron expression" in error


def resolve(dag: DAG, **overrides: Any) -> dict[str, Any]:
    """What a trigger with these values resolves to (ParamsDict validates on assignment)."""
    params = copy.deepcopy(dag.params)
    for name, value in overrides.items():
        params[name] = value
    return params.validate()


def test_params_have_types_defaults_and_descriptions(local_dags: dict[str, DAG]) -> None:
    binary = local_dags["mingo_retrain_binary"]
    assert set(binary.params) == {
        "data_uri", "cutoff", "horizon_days", "force_promote", "dry_run", "min_absolute_margin",
        "trigger_reason",
    }  # fmt: skip
    assert "horizon_days" not in local_dags["mingo_retrain_clustering"].params
    for name in binary.params:
        param = binary.params.get_param(name)
        assert param.description, name
        assert "type" in param.schema, name
    defaults = resolve(binary)
    assert defaults["force_promote"] is False
    assert defaults["dry_run"] is False
    assert defaults["horizon_days"] == 30
    assert defaults["cutoff"] is None
    # A scheduled or manual run has no trigger reason; the monitor sets one.
    assert defaults["trigger_reason"] is None
    accepted = resolve(
        binary,
        data_uri="s3://mingo-data/clickbus/df_t.parquet",
        cutoff="2024-01-31",
        horizon_days=7,
        min_absolute_margin=0.02,
        force_promote=True,
    )
    assert accepted["cutoff"] == "2024-01-31"
    assert accepted["horizon_days"] == 7


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("cutoff", "31/01/2024", "is not a 'date'"),
        ("horizon_days", 14, "is not one of [7, 30]"),
        ("min_absolute_margin", -0.1, "is less than the minimum of 0"),
        ("data_uri", "s3://Bad_Bucket/df.csv", "does not match"),
        ("data_uri", "/data/purchases.xlsx", "does not match"),
        ("force_promote", "yes", "is not of type 'boolean'"),
        ("trigger_reason", "x" * 4001, "is too long"),
    ],
)
def test_params_reject_bad_values_naming_them(
    local_dags: dict[str, DAG], name: str, value: Any, problem: str
) -> None:
    with pytest.raises(ParamValidationError) as error:
        resolve(local_dags["mingo_retrain_binary"], **{name: value})
    assert name in str(error.value)
    assert problem in str(error.value)


@pytest.mark.parametrize("runner", ["kubernetes", "local"])
def test_dags_serialize_for_the_scheduler(monkeypatch: pytest.MonkeyPatch, runner: str) -> None:
    # What `airflow dags reserialize` and the DAG processor store: the scheduler and the UI see
    # the DAG through this round trip, custom operators and params included.
    from airflow.serialization.serialized_objects import DagSerialization

    for dag_id, dag in load_dags(monkeypatch, runner).items():
        if not dag_id.startswith("mingo_retrain_"):
            continue  # tests/dags/test_monitor_dag.py and test_score_dag.py
        restored = DagSerialization.from_dict(DagSerialization.to_dict(dag))
        assert restored.dag_id == dag_id
        assert set(restored.task_dict) == set(EXPECTED_EDGES)
        assert restored.max_active_runs == 1
        assert set(restored.params) == set(dag.params)
        retrain = restored.task_dict["retrain"]
        assert retrain.retries == 1
