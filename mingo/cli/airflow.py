"""`mingo airflow`: Airflow 3 running the project's DAGs on this machine, until Ctrl-C.

What `make airflow` runs. The launcher is `mingo.local_airflow` (API server + UI, scheduler,
DAG processor, triggerer, LocalExecutor); this command adds the MinGo side: the steps run as
local `mingo` processes (`MINGO_RUNNER=local`) on the embedded stack of MINGO_HOME, and a
small generated purchases file is the DAGs' default data (`MINGO_DATA_URI`) unless one is
configured, so a run started by unpausing a DAG does not fail at validate_data.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from mingo.cli.context import settings_of
from mingo.config import Settings

DEFAULT_PORT = 8080
AIRFLOW_DIRNAME = "airflow"
DEMO_DATA_DIRNAME = "airflow-data"
DEMO_DATA_FILENAME = "purchases.csv"
# Small enough to generate in seconds and to retrain in about a minute per DAG run.
DEMO_CUSTOMERS = 2000
DEMO_SEED = 7
# How often the command checks that every component is still running.
WATCH_INTERVAL_SECONDS = 2.0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def demo_data(settings: Settings) -> Path:
    """The generated purchases file under MINGO_HOME, written the first time only."""
    from mingo.data.generate import generate_purchases
    from mingo.data.io import save_purchases

    path = settings.home / DEMO_DATA_DIRNAME / DEMO_DATA_FILENAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        typer.echo(f"generating demo purchases of {DEMO_CUSTOMERS:,} customers into {path}")
        frame = generate_purchases(DEMO_CUSTOMERS, DEMO_SEED)
        save_purchases(frame, str(path), settings.data_s3)
    return path


def initialize_registry(settings: Settings) -> None:
    """Create the embedded MLflow database before any task does.

    Two DAG runs starting together on a fresh MINGO_HOME would both create its tables, and
    one task fails with "table ... already exists" (seen with binary and clustering).
    """
    from mingo.tracking import is_embedded_mlflow, mlflow_client

    if is_embedded_mlflow(settings):
        mlflow_client(settings).search_registered_models(max_results=1)


def airflow(
    ctx: typer.Context,
    port: Annotated[
        int,
        typer.Option(
            "--port",
            min=1,
            max=65535,
            help="Port of the API server and UI; the task runners are pointed at its "
            "execution API on the same port.",
        ),
    ] = DEFAULT_PORT,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="AIRFLOW_HOME: configuration, logs, the database (default: $MINGO_HOME/airflow).",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Metadata database (postgresql://... or sqlite:///...). Default: a PostgreSQL "
            "cluster under the home when the PostgreSQL server is installed, else SQLite.",
        ),
    ] = None,
) -> None:
    """Run Airflow's UI, REST API and scheduler with the MinGo DAGs until Ctrl-C.

    The DAG steps run as local `mingo` commands on the embedded stack (MINGO_HOME).

    Log in with the user and password it prints.

    Ctrl-C (or SIGTERM) stops every Airflow process and the task workers it started.
    """
    import os

    from pydantic import ValidationError

    from mingo.local_airflow import AirflowStack, AirflowStackConfig, AirflowStackError

    settings = settings_of(ctx)
    data_uri = settings.data_uri or str(demo_data(settings))
    initialize_registry(settings)
    try:
        config = AirflowStackConfig(
            home=home or settings.home / AIRFLOW_DIRNAME,
            port=port,
            database_url=database_url,
            env={
                "MINGO_RUNNER": "local",
                "MINGO_HOME": str(settings.home),
                "MINGO_DATA_URI": data_uri,
            },
        )
    except ValidationError as error:
        for issue in error.errors():
            typer.echo(f"error: {'.'.join(map(str, issue['loc']))}: {issue['msg']}", err=True)
        raise typer.Exit(code=EXIT_USAGE) from None
    # The command's environment is the components' base: PATH, locale, proxies.
    stack = AirflowStack(config, dict(os.environ))
    # A SIGTERM (a supervisor, `timeout`) unwinds like Ctrl-C: the components are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    try:
        typer.echo(f"starting Airflow in {config.home} (logs: {stack.logs_dir})")
        stack.start()
        typer.echo(
            f"Airflow is up in {time.monotonic() - started:.0f} s on {stack.database}\n"
            f"  UI and REST API: {stack.base_url}\n"
            f"  login:           {stack.username} / {stack.password()}\n"
            f"  DAGs:            {config.dags_folder} (MINGO_RUNNER=local)\n"
            f"  default data:    {data_uri}\n"
            f"  MinGo state:     {settings.home}\n"
            "Ctrl-C stops it."
        )
        while True:
            stack.check_running()
            time.sleep(WATCH_INTERVAL_SECONDS)
    except KeyboardInterrupt:
        # A second Ctrl-C must not cut the shutdown short and orphan the workers.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        typer.echo("stopping Airflow ...")
        stack.stop()
        typer.echo("stopped: no Airflow process is left")
    except AirflowStackError as error:
        stack.stop()
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=EXIT_FAILED) from None
