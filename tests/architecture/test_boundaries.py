"""The import boundaries of CONTRACT.md, checked in fresh interpreters and in the source.

Every module of `mingo` (its CLI included) imports none of airflow, zenml or bentoml, and the
import graph of `mingo` has no cycle; `bento_services` imports neither zenml nor airflow;
`zenml_pipelines` no airflow; and `mingo --help` stays light enough for a DAG-side or
serving-side install.
"""

from __future__ import annotations

import ast
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("airflow", "zenml", "bentoml")


def _package_modules(package: str) -> list[str]:
    path = ROOT / package.replace(".", "/")
    return [package, *(info.name for info in pkgutil.walk_packages([str(path)], f"{package}."))]


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


def test_no_module_of_mingo_imports_a_framework(tmp_path: Path) -> None:
    modules = _package_modules("mingo")
    assert {"mingo.models.api", "mingo.registry", "mingo.cli.train"} <= set(modules)
    assert _frameworks_imported(modules, tmp_path) == {}


def _import_graph(package: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in its source, TYPE_CHECKING too)."""
    modules = set(_package_modules(package))
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name in modules:
        path = ROOT / name.replace(".", "/")
        source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                submodules = [f"{node.module}.{alias.name}" for alias in node.names]
                targets = [t for t in submodules if t in modules] or [node.module]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_of_mingo_has_no_cycle() -> None:
    graph = _import_graph("mingo")
    assert "mingo.retraining.stages" in graph["mingo.retraining.runner"]
    assert _cycles(graph) == []


def test_the_cycle_check_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


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
