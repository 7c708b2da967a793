"""The `mingo` command line. Each command group lives in its own module and imports
heavy libraries (pandas, mlflow, zenml, bentoml, kubernetes) inside the command body,
so `mingo --help` stays fast."""

from mingo.cli.app import app, main

__all__ = ["app", "main"]
