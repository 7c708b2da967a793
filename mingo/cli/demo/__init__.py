"""`mingo demo`: the whole retraining loop on one machine, on the embedded stack.

Generate purchases, retrain the three models with the ZenML pipeline (`mingo train`),
promote, serve them with BentoML (`mingo serve`), ask them for predictions, then run the
next scheduled retraining on newer data, show its decision and the reloaded services.

State: the demo keeps everything in its own home, `$MINGO_HOME/demo` (default
`./.mingo/demo`), and resets that directory at every start, so `make demo` can be run again
and again and never touches models trained outside the demo. `--keep-state` reuses it (the
first run is then judged against the previous demo's champions); `--home` picks another.
MLflow, ZenML and S3 settings of the calling environment are ignored: the demo always runs
on the embedded default (SQLite MLflow, local ZenML store) under its home.

The demo is a user of the core, not part of it: it lives under the CLI, and nothing in
`mingo/` outside `mingo/cli/` imports it. `command` holds the Typer command (light: Rich and
the sequence are imported when the command runs); `scenario` the sequence; `console` what is
shown; `predictions` and `snapshots` the requests and the data.
"""

from mingo.cli.demo.command import demo

__all__ = ["demo"]
