"""Settings a service refuses at start, run for real: `mingo serve` and `bentoml serve` exit
non-zero with a message naming the variable, and no service comes up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mingo.cli.serve import service_import_path
from tests.fixtures.services import free_loopback_port
from tests.serving.conftest import service_env

EMPTY_KEY = "MINGO_API_KEY is empty: set a key, or MINGO_AUTH=none to serve without authentication"
VENV_BIN = Path(sys.executable).parent


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"MINGO_API_KEY": ""}, EMPTY_KEY),
        ({"MINGO_AUTH": "api-key"}, "MINGO_AUTH=api-key requires a non-empty MINGO_API_KEY"),
        ({"MINGO_AUTH": "none", "MINGO_API_KEY": "k"}, "MINGO_AUTH=none contradicts"),
    ],
    ids=["empty-key", "api-key-without-key", "none-with-key"],
)
def test_mingo_serve_refuses_before_starting_bentoml(
    extra: dict[str, str], message: str, tmp_path: Path
) -> None:
    env = service_env(tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}", extra=extra)
    port = free_loopback_port()
    done = run([str(VENV_BIN / "mingo"), "serve", "binary", "--port", str(port)], env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert message in done.stderr
    assert "serving" not in done.stdout  # BentoML was never started


def test_the_bentoml_service_process_fails_at_start_on_an_empty_key(tmp_path: Path) -> None:
    env = service_env(tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}", extra={"MINGO_API_KEY": ""})
    command = [
        str(VENV_BIN / "bentoml"),
        "serve",
        service_import_path("binary"),
        "--port",
        str(free_loopback_port()),
        "--working-dir",
        str(Path(__file__).resolve().parents[2]),
    ]
    done = run(command, env)
    assert done.returncode != 0
    assert "SettingsError" in done.stdout + done.stderr
    assert EMPTY_KEY in done.stdout + done.stderr
