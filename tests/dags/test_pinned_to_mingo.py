"""The names the DAG package copies from mingo, pinned to mingo's own.

The scheduler parses the DAG files with Airflow's image, which has no `mingo` package, so
`dags/mingo_dags` keeps its own copies of a few names; here they must equal mingo's.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import get_args

import pytest
from typer.testing import CliRunner

from mingo import MODEL_KINDS, ModelKind, registered_model_name
from mingo.cli.app import app
from tests.dags.conftest import DAGS_FOLDER

# As Airflow imports them: the dags folder on sys.path, the helpers as `mingo_dags`.
if str(DAGS_FOLDER) not in sys.path:
    sys.path.insert(0, str(DAGS_FOLDER))
from mingo_dags import config, factory


def test_kind_literal_is_mingos() -> None:
    assert get_args(config.Kind) == get_args(ModelKind) == MODEL_KINDS


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_model_name_is_mingos(kind: ModelKind) -> None:
    assert config.model_name(kind) == registered_model_name(kind)


def test_bad_data_exit_code_is_what_the_cli_exits_with(tmp_path: Path) -> None:
    # What `validate_data` and `retrain` treat as final (no retry) is the CLI's bad-data exit.
    broken = tmp_path / "broken.csv"
    broken.write_text("fk_contact,date_purchase\nabc,2024-01-01\n")
    result = CliRunner().invoke(app, ["data", "validate", str(broken)])
    assert result.exit_code == factory.BAD_DATA_EXIT_CODE, result.output


def test_the_decision_the_dag_reads_is_the_registrys() -> None:
    # decide pushes RecordedDecision's fields; the deploy steps read these two of them.
    from mingo.registry import RecordedDecision

    fields = RecordedDecision.model_fields
    assert {"promoted", "candidate_version", "reason", "model"} <= set(fields)


def test_every_trigger_form_param_is_a_retrain_request_field() -> None:
    from mingo_dags.params import retrain_params

    from mingo.retraining.request import RetrainRequest

    fields = set(RetrainRequest.model_fields)
    for kind in MODEL_KINDS:
        assert set(retrain_params(kind)) <= fields, kind


def test_the_margin_bounds_of_the_form_are_the_requests() -> None:
    from mingo_dags.params import retrain_params

    from mingo.retraining.request import RetrainRequest

    schema = RetrainRequest.model_json_schema()["properties"]["min_absolute_margin"]
    number = next(option for option in schema["anyOf"] if option.get("type") == "number")
    param = retrain_params("binary")["min_absolute_margin"].schema
    assert (param["minimum"], param["maximum"]) == (number["minimum"], number["maximum"])


def test_the_trigger_reason_bound_is_the_requests() -> None:
    from mingo_dags.params import TRIGGER_REASON_MAX_CHARS, retrain_params

    from mingo.retraining.request import TRIGGER_REASON_MAX_CHARS as REQUEST_MAX

    assert TRIGGER_REASON_MAX_CHARS == REQUEST_MAX
    assert retrain_params("binary")["trigger_reason"].schema["maxLength"] == REQUEST_MAX


def test_the_monitor_defaults_are_the_monitors() -> None:
    from mingo.monitoring import monitor

    assert config.DEFAULT_MONITOR_TOLERANCE == monitor.DEFAULT_TOLERANCE
    assert config.DEFAULT_MONITOR_DRIFT_THRESHOLD == monitor.DEFAULT_DRIFT_THRESHOLD
    assert config.DEFAULT_MONITOR_MIN_OUTCOMES == monitor.DEFAULT_MIN_OUTCOMES


def test_the_monitor_form_accepts_only_what_the_monitor_accepts() -> None:
    from mingo_dags.params import monitor_params

    from mingo.monitoring.monitor import MonitorConfig

    core = MonitorConfig.model_json_schema()["properties"]
    params = monitor_params("binary", config.MonitorDagConfig())
    form = {name: param.schema for name, param in params.items()}
    assert form["tolerance"]["minimum"] >= core["tolerance"]["minimum"]
    drift_floor = core["drift_threshold"]["exclusiveMinimum"]
    assert form["drift_threshold"]["exclusiveMinimum"] >= drift_floor
    assert form["min_outcomes"]["minimum"] >= core["min_outcomes"]["minimum"]
