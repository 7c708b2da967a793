"""Step pods' service accounts: one per role, and the former single key still read."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dags.conftest import DAGS_FOLDER

# As Airflow imports them: the dags folder on sys.path, the helpers as `mingo_dags`.
if str(DAGS_FOLDER) not in sys.path:
    sys.path.insert(0, str(DAGS_FOLDER))
from mingo_dags.config import DagConfigError, load_dag_config


def config_with(tmp_path: Path, **kubernetes: Any) -> Path:
    raw = yaml.safe_load((DAGS_FOLDER / "mingo_retrain.yaml").read_text())
    raw["kubernetes"].pop("service_accounts")
    raw["kubernetes"].update(kubernetes)
    path = tmp_path / "dags.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_shipped_file_splits_training_and_deploying() -> None:
    cluster = load_dag_config(environ={}).kubernetes
    assert cluster.service_account_for("training") == "mingo-trainer"
    assert cluster.service_account_for("deploying") == "mingo-deployer"


def test_the_former_single_account_serves_both_roles(tmp_path: Path) -> None:
    path = config_with(tmp_path, service_account="mingo-pipeline")
    cluster = load_dag_config(path, environ={}).kubernetes
    assert cluster.service_account_for("training") == "mingo-pipeline"
    assert cluster.service_account_for("deploying") == "mingo-pipeline"


def test_no_account_at_all_is_refused_with_the_field(tmp_path: Path) -> None:
    with pytest.raises(DagConfigError, match=r"kubernetes: .*set service_accounts: \{training"):
        load_dag_config(config_with(tmp_path), environ={})
    with pytest.raises(DagConfigError, match=r"kubernetes\.service_accounts\.deploying"):
        load_dag_config(config_with(tmp_path, service_accounts={"training": "t"}), environ={})
