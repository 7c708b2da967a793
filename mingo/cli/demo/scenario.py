"""The demo's sequence: data, first scheduled run, serving, next scheduled run, reload.

Trainings go through `mingo train` (the ZenML pipeline, exactly as a user or Airflow runs
it) and services through `mingo serve`, each as its own process on the demo's MINGO_HOME.
Everything started here is stopped in a `finally`, also on Ctrl-C or an error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from mingo import MODEL_KINDS, ModelKind
from mingo.cli.demo import console as show
from mingo.cli.demo.predictions import ServiceAnswer, ask, request_body, sample_customers
from mingo.cli.demo.snapshots import DemoData, Snapshot, make_demo_data
from mingo.config import load_settings
from mingo.deploy.local import reload_local_service
from mingo.registry import RecordedDecision, read_decision
from mingo.report import REPORTS_DIRNAME
from mingo.serving.process import LocalService, free_local_port, mingo_executable, wait_until_ready
from mingo.tracking import mlflow_client

# Variables that would point the demo at another MLflow, ZenML or S3 than its embedded home.
FOREIGN_PREFIXES = ("MLFLOW_", "ZENML_", "MINGO_", "AWS_", "BENTOML_HOME")
# Steps of the progress bar: data, 3 trainings, start services, ask; data, 3, reload, ask.
TOTAL_STEPS = 12


class DemoOptions(BaseModel):
    model_config = ConfigDict(frozen=True)

    home: Path
    customers: int = Field(default=20_000, ge=200)
    seed: int = 7
    weeks_between_runs: int = Field(default=8, ge=1)
    sample_customers: int = Field(default=3, ge=1, le=20)
    fresh: bool = True
    keep_serving: bool = False
    ready_timeout_s: float = Field(default=300.0, gt=0)
    train_timeout_s: float = Field(default=1800.0, gt=0)


@dataclass
class DemoOutcome:
    data: DemoData | None = None
    first_decisions: list[RecordedDecision] = field(default_factory=list)
    second_decisions: list[RecordedDecision] = field(default_factory=list)
    first_answers: list[ServiceAnswer] = field(default_factory=list)
    second_answers: list[ServiceAnswer] = field(default_factory=list)
    reports: list[Path] = field(default_factory=list)


class TrainingFailedError(RuntimeError):
    """`mingo train` exited with an error during the demo."""


def child_environment(home: Path) -> dict[str, str]:
    """This process's environment on the demo's embedded stack under `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
    env.update(
        MINGO_HOME=str(home),
        BENTOML_HOME=str(home / "bentoml"),
        BENTOML_DO_NOT_TRACK="true",
        ZENML_ANALYTICS_OPT_IN="false",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def mlflow_ui_command(home: Path) -> str:
    mlflow = Path(sys.executable).with_name("mlflow")
    return f"{mlflow} ui --backend-store-uri sqlite:///{home / 'mlflow.db'} --port 5000"


def reset_home(home: Path) -> None:
    # Only the demo's own directory is wiped; refuse anything that does not look like one.
    if home.exists():
        marker = home / ".mingo-demo"
        if any(home.iterdir()) and not marker.exists():
            raise ValueError(
                f"{home} is not empty and was not created by `mingo demo`; "
                "choose another --home or remove it yourself"
            )
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / ".mingo-demo").write_text("created by `mingo demo`; reset on every run\n")


def run_training(
    kind: ModelKind, snapshot: Snapshot, home: Path, run_label: str, timeout_s: float
) -> RecordedDecision:
    """`mingo train KIND --data URI`, then the decision it recorded on the version it
    registered, read back from the demo's registry with `mingo.registry.read_decision` (the
    one reader, as the DAG reads it). Of the printed decision (the last stdout line) only the
    candidate version is taken, to know which version to read."""
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    out_path = logs / f"train-{kind}-{run_label}.out"
    err_path = logs / f"train-{kind}-{run_label}.log"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        completed = subprocess.run(
            [mingo_executable(), "train", kind, "--data", snapshot.uri],
            env=child_environment(home),
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            timeout=timeout_s,
            check=False,
        )
    lines = [line for line in out_path.read_text().splitlines() if line.strip()]
    if completed.returncode != 0 or not lines:
        tail = "\n".join(err_path.read_text(errors="replace").splitlines()[-15:])
        raise TrainingFailedError(
            f"mingo train {kind} --data {snapshot.uri} exited with {completed.returncode}; "
            f"log {err_path}:\n{tail}"
        )
    version = json.loads(lines[-1]).get("candidate_version")
    if version is None:
        raise TrainingFailedError(f"mingo train {kind} --data {snapshot.uri} registered no version")
    client = mlflow_client(load_settings(child_environment(home)))
    return read_decision(client, kind, str(version))


def ask_all(
    services: list[LocalService], data: DemoData, customers: list[str], as_of: date
) -> list[ServiceAnswer]:
    body = request_body(data.purchases, customers, as_of)
    return [ask(service.kind, service.url, body) for service in services]


def run_demo(options: DemoOptions, console: Console) -> DemoOutcome:
    home = options.home.resolve()
    if options.fresh:
        reset_home(home)
    else:
        home.mkdir(parents=True, exist_ok=True)
    outcome = DemoOutcome()
    services = [
        LocalService(kind, free_local_port(), home / "logs" / f"serve-{kind}.log")
        for kind in MODEL_KINDS
    ]
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        overall = progress.add_task("preparing", total=TOTAL_STEPS)

        def step(description: str) -> None:
            progress.update(overall, description=description)

        def done() -> None:
            progress.advance(overall)

        step(f"generating purchases of {options.customers:,} customers")
        data = make_demo_data(
            options.customers, options.seed, home / "data", options.weeks_between_runs
        )
        outcome.data = data
        console.print(
            f"data: {data.first.rows:,} orders up to {data.first.end} (first run), "
            f"{data.second.rows:,} up to {data.second.end} (next run) -> {data.first.path.parent}"
        )
        done()

        for kind in MODEL_KINDS:
            step(f"run 1 ({data.first.end}): retraining {kind} with the ZenML pipeline")
            outcome.first_decisions.append(
                run_training(kind, data.first, home, "run1", options.train_timeout_s)
            )
            done()
        console.print(
            show.decisions_table(f"Run 1 on data up to {data.first.end}", outcome.first_decisions)
        )
        console.print(show.decision_reasons(outcome.first_decisions))

        try:
            step("starting the three BentoML prediction services")
            env = child_environment(home)
            for service in services:
                service.start(env)
            wait_until_ready(services, options.ready_timeout_s)
            done()

            step("asking the services for predictions")
            customers = sample_customers(data.purchases, data.first.end, options.sample_customers)
            outcome.first_answers = ask_all(services, data, customers, data.first.end)
            console.print(
                show.answers_table(f"Predictions as of {data.first.end}", outcome.first_answers)
            )
            done()

            step(f"next scheduled run: data up to {data.second.end}")
            done()
            for kind in MODEL_KINDS:
                step(f"run 2 ({data.second.end}): retraining {kind} with the ZenML pipeline")
                outcome.second_decisions.append(
                    run_training(kind, data.second, home, "run2", options.train_timeout_s)
                )
                done()
            console.print(
                show.decisions_table(
                    f"Run 2 on data up to {data.second.end}: promote or keep",
                    outcome.second_decisions,
                )
            )
            console.print(show.decision_reasons(outcome.second_decisions))

            step("reloading the services (POST /admin/reload) to the current champions")
            for service, decision in zip(services, outcome.second_decisions, strict=True):
                champion = decision.champion_version_after
                if champion is None:
                    raise RuntimeError(f"{decision.model} has no champion after run 2")
                reload_local_service(service.url, expected_version=champion)
            done()

            step("asking the services again, with the newer purchases")
            outcome.second_answers = ask_all(services, data, customers, data.second.end)
            console.print(
                show.answers_table(f"Predictions as of {data.second.end}", outcome.second_answers)
            )
            done()
            progress.update(overall, description="done")
            progress.stop()

            outcome.reports = sorted((home / REPORTS_DIRNAME).glob("*.html"))
            champions = {
                d.model: d.champion_version_after or "none" for d in outcome.second_decisions
            }
            console.print(
                show.summary_panel(
                    home=home,
                    mlflow_ui_command=mlflow_ui_command(home),
                    service_urls={s.kind: s.url for s in services},
                    champions=champions,
                    reports=outcome.reports,
                    services_running=options.keep_serving,
                )
            )
            if options.keep_serving:
                console.print("services keep running: press Ctrl-C to stop them")
                while all(s.process is not None and s.process.poll() is None for s in services):
                    time.sleep(1.0)
        finally:
            for service in services:
                service.stop()
    return outcome
