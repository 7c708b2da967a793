"""The three notebooks run top to bottom on small generated data and log to MLflow.

They run in a kernel of this interpreter (the project's venv), declared in a temporary
Jupyter path, so the test works on a fresh clone without any `jupyter kernelspec install`.
The check is on the tracking store the notebook wrote to, not only on the notebook's output.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from mingo.config import load_settings
from mingo.tracking import experiment_name, mlflow_client

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL_NAME = "mingo-test-venv"
TEST_CUSTOMERS = "700"
CELL_TIMEOUT_S = 300
EXPECTED_METRICS = {
    "binary": {"accuracy", "balanced_accuracy", "roc_auc", "pr_auc", "f1"},
    "multiclass": {"accuracy", "top_3_accuracy", "top_5_accuracy", "macro_f1", "coverage"},
    "clustering": {"silhouette", "davies_bouldin"},
}


@pytest.fixture
def venv_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "MinGo (project venv)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("MINGO_NOTEBOOK_CUSTOMERS", TEST_CUSTOMERS)
    # One thread per library in the kernel: the test shares a small machine.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return KERNEL_NAME


def test_notebooks_are_committed_without_outputs() -> None:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs, f"{path.name} is committed with outputs"
                assert cell.execution_count is None, f"{path.name} has execution counts"


@pytest.mark.parametrize("kind", ["binary", "multiclass", "clustering"])
def test_notebook_runs_and_logs_its_metrics_to_mlflow(
    kind: str, venv_kernel: str, tmp_path: Path
) -> None:
    path = NOTEBOOKS / f"{kind}_notebook.ipynb"
    notebook = nbformat.read(path, as_version=4)
    assert any("parameters" in cell.metadata.get("tags", []) for cell in notebook.cells)
    client = NotebookClient(
        notebook,
        kernel_name=venv_kernel,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()

    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream"
    )
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert len(images) >= 3, f"{path.name} displayed {len(images)} plots"

    mlflow = mlflow_client(load_settings())
    experiment = mlflow.get_experiment_by_name(experiment_name(kind))
    assert experiment is not None, f"{path.name} created no experiment {experiment_name(kind)}"
    runs = mlflow.search_runs(
        [experiment.experiment_id], filter_string="tags.`mingo.source` = 'notebook'"
    )
    assert len(runs) == 1
    run = runs[0]
    assert f"MLflow run: {run.info.run_id}" in printed
    logged = run.data.metrics
    assert EXPECTED_METRICS[kind] <= set(logged), sorted(logged)
    for name in EXPECTED_METRICS[kind]:
        assert math.isfinite(logged[name])
        assert f"baseline_{name}" in logged
    assert run.data.tags["mingo.data.uri"] == f"generated://customers={TEST_CUSTOMERS},seed=7"
    assert int(run.data.tags["mingo.data.rows"]) > 0
    artifacts = {item.path for item in mlflow.list_artifacts(run.info.run_id)}
    assert {"plots", "dataset_identity.json"} <= artifacts
