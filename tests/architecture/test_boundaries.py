"""The import boundaries of CONTRACT.md, checked in fresh interpreters.

The core (`mingo`, the CLI and the demo aside) must import none of airflow, zenml or bentoml;
`bento_services` neither zenml nor airflow; `zenml_pipelines` no airflow; and `mingo --help`
must stay light enough for a DAG-side or serving-side install.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("airflow", "zenml", "bentoml")


def _package_modules(package: str, skip: tuple[str, ...] = ()) -> list[str]:
    path = ROOT / package.replace(".", "/")
    names = [package]
    for info in pkgutil.walk_packages([str(path)], prefix=f"{package}."):
        if not info.name.startswith(skip):
            names.append(info.name)
    return names


def _frameworks_imported(modules: list[str], tmp_path: Path) -> dict[str, list[str]]:
    """Import each module in one fresh interpreter; which frameworks got loaded."""
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps({{f: sorted(m for m in sys.modules if m == f or m.startswith(f + '.'))"
        f"[:3] for f in {FRAMEWORKS!r}}}))\n"
    )
    env = {
        **os.environ,
        "MINGO_HOME": str(tmp_path / "home"),
        "ZENML_CONFIG_PATH": str(tmp_path / "zenml"),
        "ZENML_ANALYTICS_OPT_IN": "false",
        "PYTHONPATH": str(ROOT),
    }
    # A script file, not `-c`: ZenML needs a main module with a path to find its source root.
    probe = tmp_path / "import_probe.py"
    probe.write_text(script)
    result = subprocess.run(
        [sys.executable, str(probe)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    return {framework: names for framework, names in loaded.items() if names}


def test_core_imports_no_framework(tmp_path: Path) -> None:
    modules = _package_modules("mingo", skip=("mingo.cli", "mingo.demo"))
    assert "mingo.models.api" in modules and "mingo.registry" in modules
    assert _frameworks_imported(modules, tmp_path) == {}


def test_cli_entry_imports_no_framework(tmp_path: Path) -> None:
    assert _frameworks_imported(["mingo.cli.app"], tmp_path) == {}


def test_bento_services_import_neither_zenml_nor_airflow(tmp_path: Path) -> None:
    loaded = _frameworks_imported(_package_modules("bento_services"), tmp_path)
    assert "bentoml" in loaded, "the check must see the services' own framework"
    assert "zenml" not in loaded and "airflow" not in loaded


def test_zenml_pipelines_import_no_airflow(tmp_path: Path) -> None:
    loaded = _frameworks_imported(_package_modules("zenml_pipelines"), tmp_path)
    assert "zenml" in loaded, "the check must see the pipelines' own framework"
    assert "airflow" not in loaded


@pytest.mark.parametrize("forbidden", FRAMEWORKS)
def test_the_check_sees_a_forbidden_import(tmp_path: Path, forbidden: str) -> None:
    assert forbidden in _frameworks_imported([forbidden], tmp_path)
