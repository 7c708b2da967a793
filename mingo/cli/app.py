"""Assembles the `mingo` Typer application from the per-group modules."""

from __future__ import annotations

import typer

from mingo.cli import (
    airflow,
    data,
    demo,
    deploy,
    evaluate,
    models,
    monitor,
    redeploy,
    score,
    serve,
    train,
)
from mingo.cli.context import load_into

app = typer.Typer(
    name="mingo",
    help="MinGo: retrain, judge, promote and serve ClickBus's customer models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.callback()(load_into)
app.add_typer(data.app, name="data")
app.add_typer(models.app, name="models")
app.add_typer(deploy.app, name="deploy")
app.command("evaluate")(evaluate.evaluate)
app.command("train")(train.train)
app.command("serve")(serve.serve)
app.command("score")(score.score)
app.command("monitor")(monitor.monitor)
app.command("redeploy")(redeploy.redeploy)
app.command("demo")(demo.demo)
app.command("airflow")(airflow.airflow)


def main() -> None:
    app()
