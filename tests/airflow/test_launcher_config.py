"""The launcher's configuration: what it accepts, what it refuses, what the components get."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mingo.local_airflow import (
    DEFAULT_API_PORT,
    PROJECT_DAGS_FOLDER,
    STACK_MARKER_VARIABLE,
    AirflowStack,
    AirflowStackConfig,
)


def test_defaults_point_the_task_runners_at_the_default_port(tmp_path: Path) -> None:
    config = AirflowStackConfig(home=tmp_path / "airflow")
    assert config.port == DEFAULT_API_PORT
    assert config.dags_folder == PROJECT_DAGS_FOLDER
    assert config.execution_api_url == f"http://127.0.0.1:{DEFAULT_API_PORT}/execution/"


def test_relative_home_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert AirflowStackConfig(home=Path("af")).home == tmp_path / "af"


def test_components_get_the_execution_api_of_the_chosen_port(tmp_path: Path) -> None:
    config = AirflowStackConfig(
        home=tmp_path / "airflow",
        port=18123,
        worker_log_port=18124,
        trigger_log_port=18125,
        database_url="postgresql://u:p@127.0.0.1:5999/airflow",
        env={"MINGO_RUNNER": "local"},
    )
    stack = AirflowStack(config, {"PATH": "/usr/bin"})
    stack.choose_database()  # a given URL is used as is: nothing is started
    env = stack.env()
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18123/execution/"
    assert env["AIRFLOW__API__PORT"] == "18123"
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "18124"
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "18125"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(PROJECT_DAGS_FOLDER)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == config.database_url
    assert env["MINGO_RUNNER"] == "local"
    assert env["PATH"].startswith(str(config.airflow_bin.parent))
    assert env[STACK_MARKER_VARIABLE] == stack.marker
    # One JWT secret for all components, kept for the next start of the same home.
    assert (
        AirflowStack(config, {}).env()["AIRFLOW__API_AUTH__JWT_SECRET"]
        == (env["AIRFLOW__API_AUTH__JWT_SECRET"])
    )


@pytest.mark.parametrize(
    ("fields", "named", "says"),
    [
        ({"port": 0}, "port", "greater than or equal to 1"),
        ({"port": 70000}, "port", "less than or equal to 65535"),
        ({"database_url": "mysql://u@h/db"}, "database_url", "postgresql://"),
        ({"database_url": "airflow.db"}, "database_url", "sqlite://"),
        ({"dags_folder": "/nonexistent/dags"}, "dags_folder", "does not exist"),
        ({"port": 8793}, "", "must differ"),
        ({"parallelism": 0}, "parallelism", "greater than or equal to 1"),
        ({"executor": "CeleryExecutor"}, "executor", "Extra inputs are not permitted"),
    ],
)
def test_invalid_settings_are_refused_naming_the_field(
    tmp_path: Path, fields: dict[str, object], named: str, says: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        AirflowStackConfig.model_validate({"home": tmp_path, **fields})
    (problem,) = refused.value.errors()
    assert ".".join(map(str, problem["loc"])) == named
    assert says in problem["msg"]
