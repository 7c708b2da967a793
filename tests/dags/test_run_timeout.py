"""The run timeout covers the worst case of the task timeouts, computed from the built DAGs."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from airflow.dag_processing.dagbag import DagBag

from tests.dags.conftest import DAGS_FOLDER, KINDS, import_error_of

# As Airflow imports them: the dags folder on sys.path, the helpers as `mingo_dags`.
if str(DAGS_FOLDER) not in sys.path:
    sys.path.insert(0, str(DAGS_FOLDER))
from mingo_dags.timeouts import retry_delay_bound, run_worst_case

SHIPPED_CONFIG = DAGS_FOLDER / "mingo_retrain.yaml"


def load_dags(monkeypatch: pytest.MonkeyPatch, runner: str, **env: str) -> DagBag:
    monkeypatch.setenv("MINGO_RUNNER", runner)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return DagBag(dag_folder=str(DAGS_FOLDER))


@pytest.mark.parametrize("runner", ["kubernetes", "local"])
def test_shipped_dags_run_timeout_covers_their_worst_case(
    monkeypatch: pytest.MonkeyPatch, runner: str
) -> None:
    bag = load_dags(monkeypatch, runner)
    assert bag.import_errors == {}
    for kind in KINDS:
        dag = bag.dags[f"mingo_retrain_{kind}"]
        bound = run_worst_case(dag)
        assert dag.dagrun_timeout >= bound.worst_case, (kind, bound.describe())
        # The longest path goes through the training and the whole rollback path.
        assert [step.task_id for step in bound.path] == [
            "validate_data", "champion_before", "retrain", "decide", "redeploy", "smoke_test",
            "rollback_needed", "rollback", "fail_after_rollback",
        ]  # fmt: skip


def test_worst_case_of_the_shipped_binary_dag_in_the_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dag = load_dags(monkeypatch, "kubernetes").dags["mingo_retrain_binary"]
    steps = {step.task_id: step for step in run_worst_case(dag).path}
    # retrain: 2 attempts of (120 min + 600 s pod start-up), one retry delay of at most
    # 2 * 2 min - 1 s.
    assert steps["retrain"].attempts == 2
    assert steps["retrain"].worst_case == 2 * timedelta(minutes=130) + timedelta(seconds=239)
    # validate_data: 3 attempts of (15 + 10) min, delays of at most 239 s and 479 s.
    assert steps["validate_data"].worst_case == timedelta(minutes=75, seconds=239 + 479)
    # rollback: never retried.
    assert steps["rollback"].worst_case == timedelta(minutes=25)
    assert run_worst_case(dag).worst_case == timedelta(minutes=571) - timedelta(seconds=10)


@pytest.mark.parametrize("task_id", ["validate_data", "retrain", "smoke_test"])
def test_retry_delay_bound_holds_for_airflows_own_delays(
    monkeypatch: pytest.MonkeyPatch, task_id: str
) -> None:
    # Airflow's TaskInstance.next_retry_datetime (jittered by a hash of the logical date).
    from airflow.models.taskinstance import TaskInstance

    task = load_dags(monkeypatch, "local").dags["mingo_retrain_binary"].task_dict[task_id]
    end = datetime(2026, 1, 1, tzinfo=UTC)
    for try_number in range(1, task.retries + 1):
        bound = retry_delay_bound(task, try_number)
        seen: list[timedelta] = []
        for day in range(200):
            # Airflow's own method, on the fields it reads (a TaskInstance row needs a DB).
            ti = SimpleNamespace(
                task=task,
                dag_id=task.dag_id,
                task_id=task.task_id,
                logical_date=end + timedelta(days=day),
                try_number=try_number,
                end_date=end,
                retry_delay_override=None,
            )
            seen.append(TaskInstance.next_retry_datetime(ti) - end)
        assert max(seen) <= bound
        # The bound is tight: the jitter reaches close to it.
        assert max(seen) >= bound * 0.9, (try_number, max(seen), bound)


def test_a_run_timeout_shorter_than_the_worst_case_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = yaml.safe_load(SHIPPED_CONFIG.read_text())
    config["dagrun_timeout_minutes"] = 300
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(config))
    bag = load_dags(monkeypatch, "kubernetes", MINGO_DAGS_CONFIG=str(path))
    error = import_error_of(bag.import_errors)
    assert "DagConfigError" in error
    assert "dagrun_timeout_minutes is 300, shorter than the worst case" in error
    assert "571 min" in error
    assert "retrain 264.0 min" in error


def test_worst_case_of_the_monitoring_and_scoring_dags_in_the_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dags = load_dags(monkeypatch, "kubernetes").dags
    # monitor / score: 3 attempts of (30 min + 600 s pod start-up), delays of at most 239 s
    # and 479 s; the registry steps and the trigger: 3 attempts of 5 min, the same delays.
    pod_step = timedelta(minutes=120, seconds=239 + 479)
    registry_step = timedelta(minutes=15, seconds=239 + 479)
    monitor = run_worst_case(dags["mingo_monitor_binary"])
    assert [step.task_id for step in monitor.path][:2] == ["monitor", "decide_retrain"]
    assert monitor.worst_case == pod_step + 2 * registry_step  # 186 min (dags/README.md)
    assert run_worst_case(dags["mingo_score_binary"]).worst_case == pod_step  # 132 min
    assert dags["mingo_monitor_binary"].dagrun_timeout >= monitor.worst_case
