"""`mingo serve KIND [--port P]`: run that BentoML prediction service locally.

The command becomes `bentoml serve` of the service (exec, so signals reach it directly); it
only chooses the service and sets the thread environment. Each worker gets one OpenMP/BLAS
thread: scikit-learn's OpenMP pools in several workers oversubscribe a small machine and
collapse throughput, so the service scales with workers, never with threads in a worker.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mingo import ModelKind

PROJECT_ROOT = Path(__file__).resolve().parents[2]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def service_import_path(kind: ModelKind) -> str:
    """`module:Class` of the BentoML service for KIND (bento_services/<kind>_service.py)."""
    return f"bento_services.{kind}_service:{kind.capitalize()}Prediction"


def serve_command(kind: ModelKind, port: int, host: str) -> list[str]:
    bentoml = Path(sys.executable).with_name("bentoml")
    return [
        str(bentoml),
        "serve",
        service_import_path(kind),
        "--port",
        str(port),
        "--host",
        host,
        "--working-dir",
        str(PROJECT_ROOT),
    ]


def serve_environment(workers: int, threads_per_worker: int) -> dict[str, str]:
    env = dict(os.environ)
    env["MINGO_SERVICE_WORKERS"] = str(workers)
    for variable in THREAD_VARIABLES:
        env[variable] = str(threads_per_worker)
    # `mlflow` and `bentoml` spawn helpers by name: keep this interpreter's bin first on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def serve(
    kind: Annotated[ModelKind, typer.Argument(help="binary, multiclass or clustering")],
    port: Annotated[int, typer.Option(help="HTTP port", min=1, max=65535)] = 3000,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(help="Worker processes", min=1)] = 1,
    threads_per_worker: Annotated[
        int, typer.Option(help="OpenMP/BLAS threads in each worker", min=1)
    ] = 1,
) -> None:
    """Run the BentoML prediction service for KIND; it loads mingo-KIND@champion at start."""
    command = serve_command(kind, port, host)
    typer.echo(f"serving mingo-{kind}@champion on http://{host}:{port} ({workers} worker(s))")
    sys.stdout.flush()
    # Replace this process, so that signals (Ctrl+C, SIGTERM from a supervisor) reach BentoML.
    os.execve(command[0], command, serve_environment(workers, threads_per_worker))
