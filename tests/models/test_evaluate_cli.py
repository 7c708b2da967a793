from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mingo.cli.app import app
from mingo.data.generate import generate_purchases
from mingo.data.io import save_purchases

CONTRACT_METRICS = {
    "binary": {"accuracy", "balanced_accuracy", "roc_auc", "pr_auc", "f1"},
    "multiclass": {"accuracy", "top_3_accuracy", "top_5_accuracy", "macro_f1", "coverage"},
    "clustering": {"silhouette", "davies_bouldin"},
}


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "purchases.csv"
    save_purchases(generate_purchases(4000, seed=21, dirty_rows=40), str(path))
    return path


@pytest.mark.parametrize("kind", sorted(CONTRACT_METRICS))
def test_evaluate_prints_model_and_baseline_metrics(kind: str, data_csv: Path) -> None:
    result = CliRunner().invoke(app, ["evaluate", kind, "--data", str(data_csv)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)

    names = CONTRACT_METRICS[kind]
    assert names <= set(report)
    assert set(report["baseline"]) == names
    assert all(isinstance(report[name], float) for name in names)
    assert report["dropped_rows"] == 40
    assert report["rows"] > report["customers"] > report["holdout_customers"] > 0
    assert report["train_cutoff"] < report["cutoff"]


def test_evaluate_with_cutoff_and_seven_day_horizon(data_csv: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["evaluate", "binary", "--data", str(data_csv), "--cutoff", "2024-02-01", "--horizon", "7"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["cutoff"] == "2024-02-01"
    assert report["train_cutoff"] == "2024-01-25"


def test_evaluate_explains_a_bad_cutoff(data_csv: Path) -> None:
    result = CliRunner().invoke(
        app, ["evaluate", "binary", "--data", str(data_csv), "--cutoff", "2024-03-30"]
    )
    assert result.exit_code == 2
    assert "label window would be incomplete" in result.stderr


def test_evaluate_rejects_an_unknown_kind(data_csv: Path) -> None:
    result = CliRunner().invoke(app, ["evaluate", "regression", "--data", str(data_csv)])
    assert result.exit_code != 0
    assert "binary" in result.output
