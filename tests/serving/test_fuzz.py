"""Schemathesis fuzzes each running service from its own OpenAPI schema: never a 5xx.

The three services share one request schema and one code path, so the binary service (behind
an API key) gets the full run, boundary-value coverage included, and the other two a shorter
random-fuzzing run against their own schema, which keeps the suite within its time budget."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mingo import MODEL_KINDS, ModelKind
from tests.serving.conftest import API_KEY, Services

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
EXAMPLES_PER_OPERATION = 12
PHASES = {"binary": "coverage,fuzzing", "multiclass": "fuzzing", "clustering": "fuzzing"}


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_fuzzed_requests_never_get_a_server_error(
    kind: ModelKind, services: Services, tmp_path: Path
) -> None:
    service = services.by_kind(kind)
    service.wait_for("/readyz", 200)
    command = [
        SCHEMATHESIS,
        "run",
        f"{service.url}/docs.json",
        "--checks",
        "not_a_server_error",
        "--include-path",
        "/predict",
        "--phases",
        PHASES[kind],
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        "20240401",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report",
        "ndjson",
        "--report-dir",
        str(tmp_path),
    ]
    if kind == "binary":
        command += ["--header", f"X-API-Key: {API_KEY}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=170)
    assert result.returncode == 0, result.stdout[-4000:]
    events = "\n".join(p.read_text() for p in tmp_path.glob("*.ndjson"))
    assert '"/predict"' in events, "schemathesis sent no request to /predict"
