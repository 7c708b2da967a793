"""Run the helm binary that scripts/install_tools.sh puts beside the venv's Python."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "mingo-prediction"
HELM = Path(sys.executable).parent / "helm"
NAMESPACE = "mingo"
RELEASE = "mingo-prediction"


class HelmError(RuntimeError):
    """helm exited non-zero; the message carries its output."""


def ensure_helm() -> Path:
    if not HELM.exists():
        subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / "install_tools.sh"), str(HELM.parent)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return HELM


def run_helm(*args: str) -> str:
    result = subprocess.run(
        [str(ensure_helm()), *args], capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise HelmError(f"helm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def render_chart(
    values_files: list[Path], set_values: list[str] | None = None
) -> list[dict[str, Any]]:
    """`helm template` of the chart into namespace mingo, as a list of objects."""
    args = ["template", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE]
    for values_file in values_files:
        args += ["-f", str(values_file)]
    for assignment in set_values or []:
        args += ["--set", assignment]
    return [doc for doc in yaml.safe_load_all(run_helm(*args)) if doc]
