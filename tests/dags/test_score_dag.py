"""Shape of the batch-scoring DAGs: one step, manual by default, and the `mingo score` command
a run builds (as-of date, output under scores_uri, pinned version)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import airflow.providers.cncf.kubernetes.operators.pod  # noqa: F401  (pre-imported, as the processor does)
import pytest
import yaml
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import DAG
from airflow.sdk.api.datamodels._generated import DagRun
from airflow.sdk.exceptions import ParamValidationError
from airflow.serialization.serialized_objects import DagSerialization

from tests.dags.conftest import DAGS_FOLDER, KINDS, import_error_of, run_params

SHIPPED_CONFIG = DAGS_FOLDER / "mingo_retrain.yaml"
SCORE_DAG_FILE = DAGS_FOLDER / "mingo_score.py"
DATA = "s3://mingo-data/clickbus/df_t.csv"
RUN_ID = "manual__2026-06-02T07:00:00+00:00"


def load_dags(monkeypatch: pytest.MonkeyPatch, runner: str = "local", **env: str) -> dict[str, DAG]:
    monkeypatch.setenv("MINGO_RUNNER", runner)
    monkeypatch.setenv("MINGO_DATA_URI", DATA)
    monkeypatch.delenv("MINGO_SCORES_URI", raising=False)
    for kind in KINDS:
        monkeypatch.delenv(f"MINGO_SCORE_SCHEDULE_{kind.upper()}", raising=False)
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


@pytest.mark.parametrize("kind", KINDS)
def test_one_step_manual_by_default(local_dags: dict[str, DAG], kind: str) -> None:
    dag = local_dags[f"mingo_score_{kind}"]
    assert list(dag.task_dict) == ["score"]
    assert dag.schedule is None
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert {"mingo", "scoring", kind} <= set(dag.tags)
    assert f"mingo score {kind}" in (dag.doc_md or "")
    step = dag.task_dict["score"]
    assert step.retries == 2
    assert step.execution_timeout == timedelta(minutes=30)


def test_schedule_is_configurable_without_code(monkeypatch: pytest.MonkeyPatch) -> None:
    dags = load_dags(monkeypatch, MINGO_SCORE_SCHEDULE_MULTICLASS="0 7 * * 1")
    assert dags["mingo_score_multiclass"].schedule == "0 7 * * 1"
    assert dags["mingo_score_binary"].schedule is None
    # The retraining and monitoring DAGs of the model keep theirs.
    assert dags["mingo_retrain_multiclass"].schedule == "0 4 * * 1"
    assert dags["mingo_monitor_multiclass"].schedule == "15 6 * * *"


def test_bad_schedule_or_output_is_reported_with_its_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MINGO_RUNNER", "local")
    monkeypatch.setenv("MINGO_SCORE_SCHEDULE_BINARY", "mondays")
    error = import_error_of(DagBag(dag_folder=str(DAGS_FOLDER)).import_errors, SCORE_DAG_FILE)
    assert "models.binary.score.schedule" in error
    monkeypatch.delenv("MINGO_SCORE_SCHEDULE_BINARY")
    monkeypatch.setenv("MINGO_SCORES_URI", "gs://bucket/scores")
    error = import_error_of(DagBag(dag_folder=str(DAGS_FOLDER)).import_errors, SCORE_DAG_FILE)
    assert "scores_uri" in error


def resolve(dag: DAG, **overrides: Any) -> dict[str, Any]:
    params = copy.deepcopy(dag.params)
    for name, value in overrides.items():
        params[name] = value
    return params.validate()


def test_params(local_dags: dict[str, DAG]) -> None:
    dag = local_dags["mingo_score_binary"]
    assert resolve(dag) == {"data_uri": DATA, "as_of": None, "version": None}
    for name in dag.params:
        assert dag.params.get_param(name).description, name


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("as_of", "2026-13-01", "is not a 'date'"),
        ("version", 0, "is less than the minimum of 1"),
        ("version", "champion", "is not of type 'null', 'integer'"),
        ("data_uri", "s3://Bad_Bucket/x.csv", "does not match"),
    ],
)
def test_params_reject_bad_values_naming_them(
    local_dags: dict[str, DAG], name: str, value: Any, problem: str
) -> None:
    with pytest.raises(ParamValidationError) as error:
        resolve(local_dags["mingo_score_binary"], **{name: value})
    assert name in str(error.value)
    assert problem in str(error.value)


def dag_run(run_after: datetime, logical_date: datetime | None) -> DagRun:
    """The run as the execution API hands it to a task."""
    return DagRun(
        dag_id="mingo_score_binary", run_id=RUN_ID, logical_date=logical_date,
        data_interval_start=None, data_interval_end=None, run_after=run_after,
        start_date=run_after, end_date=None, run_type="manual", state="running", conf={},
        consumed_asset_events=[], partition_key=None,
    )  # fmt: skip


def command_of_run(
    dag: DAG, conf: dict[str, Any] | None = None, ds: str | None = "2026-06-02"
) -> list[str]:
    """The score step's `mingo` arguments in a run (ds: its logical date, None: none)."""
    task: Any = dag.task_dict["score"]
    run_after = datetime(2026, 6, 3, 7, tzinfo=UTC)
    context: dict[str, Any] = {
        "params": run_params(dag, task, conf),
        "run_id": RUN_ID,
        "dag_run": dag_run(run_after, None if ds is None else run_after),
    }
    if ds is not None:
        context["ds"] = ds
    if hasattr(task, "command"):
        return list(task.command(context)[1:])
    return list(task.command_builder(task._inputs(context)))


@pytest.mark.parametrize("runner", ["local", "kubernetes"])
def test_the_run_scores_as_of_its_date_into_scores_uri(
    runner: str, local_dags: dict[str, DAG], kubernetes_dags: dict[str, DAG]
) -> None:
    dag = (local_dags if runner == "local" else kubernetes_dags)["mingo_score_binary"]
    assert command_of_run(dag) == [
        "score", "binary", "--data", DATA, "--as-of", "2026-06-02",
        "--out", "s3://mingo-data/scores/binary/2026-06-02.parquet",
    ]  # fmt: skip
    # The form's as-of wins over the run's date; a pinned version is passed on.
    chosen = {"as_of": "2026-05-01", "version": 4, "data_uri": "/data/purchases.parquet"}
    assert command_of_run(dag, chosen) == [
        "score", "binary", "--data", "/data/purchases.parquet", "--as-of", "2026-05-01",
        "--out", "s3://mingo-data/scores/binary/2026-05-01.parquet", "--version", "4",
    ]  # fmt: skip
    # A manual run without a logical date: the day it was queued to run.
    assert command_of_run(dag, ds=None)[4:6] == ["--as-of", "2026-06-03"]


def test_scores_uri_comes_from_the_yaml_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = yaml.safe_load(SHIPPED_CONFIG.read_text())
    assert config["scores_uri"] == "s3://mingo-data/scores"
    config["scores_uri"] = str(tmp_path / "scores") + "/"
    path = tmp_path / "dags.yaml"
    path.write_text(yaml.safe_dump(config))
    dags = load_dags(monkeypatch, MINGO_DAGS_CONFIG=str(path))
    out = command_of_run(dags["mingo_score_clustering"])[-1]
    assert out == f"{tmp_path}/scores/clustering/2026-06-02.parquet"
    dags = load_dags(monkeypatch, MINGO_SCORES_URI="s3://campaigns/mingo")
    out = command_of_run(dags["mingo_score_clustering"])[-1]
    assert out == "s3://campaigns/mingo/clustering/2026-06-02.parquet"


@pytest.mark.parametrize("runner", ["kubernetes", "local"])
def test_dags_serialize_for_the_scheduler(monkeypatch: pytest.MonkeyPatch, runner: str) -> None:
    dags = load_dags(monkeypatch, runner)
    for kind in KINDS:
        dag = dags[f"mingo_score_{kind}"]
        restored: Any = DagSerialization.from_dict(DagSerialization.to_dict(dag))
        assert set(restored.task_dict) == {"score"}
        assert set(restored.params) == set(dag.params)
