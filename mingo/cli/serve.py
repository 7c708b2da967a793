"""`mingo serve KIND [--port P]`: run that BentoML prediction service locally.

The command becomes `bentoml serve` of the service (exec, so signals reach it directly); it
only checks the service's settings, chooses the service and sets the thread environment. A
setting the service would refuse (an empty `MINGO_API_KEY`, say) is reported here, before
BentoML starts, with exit code 1. Each worker gets one OpenMP/BLAS
thread: scikit-learn's OpenMP pools in several workers oversubscribe a small machine and
collapse throughput, so the service scales with workers, never with threads in a worker.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mingo import ModelKind, registered_model_name
from mingo.cli.context import settings_of
from mingo.config import Settings, SettingsError
from mingo.exit_codes import EXIT_FAILED

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


def serving_what(kind: ModelKind, settings: Settings) -> str:
    name = registered_model_name(kind)
    match settings.model_version:
        case None:
            return f"{name}@champion"
        case "":
            return f"{name} (no version pinned: the service will not become ready)"
        case version:
            return f"{name} version {version} (pinned by MINGO_MODEL_VERSION)"


def serve(
    ctx: typer.Context,
    kind: Annotated[ModelKind, typer.Argument(help="binary, multiclass or clustering")],
    port: Annotated[int, typer.Option(help="HTTP port", min=1, max=65535)] = 3000,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(help="Worker processes", min=1)] = 1,
    threads_per_worker: Annotated[
        int, typer.Option(help="OpenMP/BLAS threads in each worker", min=1)
    ] = 1,
) -> None:
    """Run the BentoML prediction service for KIND; it loads mingo-KIND@champion at start
    (or the version MINGO_MODEL_VERSION pins)."""
    settings = settings_of(ctx)
    try:
        settings.service_api_key()
    except SettingsError as error:
        typer.echo(f"mingo serve {kind}: {error}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    command = serve_command(kind, port, host)
    typer.echo(
        f"serving {serving_what(kind, settings)} on http://{host}:{port} ({workers} worker(s))"
    )
    sys.stdout.flush()
    # Replace this process, so that signals (Ctrl+C, SIGTERM from a supervisor) reach BentoML.
    os.execve(command[0], command, serve_environment(workers, threads_per_worker))
