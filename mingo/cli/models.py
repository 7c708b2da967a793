"""`mingo models status|promote|rollback`: read the registry, move the champion by hand.

`rollback` sets champion <- previous, and previous <- the version that `previous` had
replaced when it was promoted (the alias is removed when there is none), so repeated
rollbacks walk back through the promotion history.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from mingo.cli.context import settings_of
from mingo.cli.train import parse_kind
from mingo.exit_codes import EXIT_BUSY

app = typer.Typer(
    help="Inspect the model registry and move the champion alias.", no_args_is_help=True
)


@app.command("status")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Champion / previous / challenger / latest version of each model, with metrics."""
    from mingo.registry import registry_status
    from mingo.tracking import mlflow_client

    statuses = registry_status(mlflow_client(settings_of(ctx)))
    if as_json:
        print(json.dumps([s.model_dump() for s in statuses], indent=2))
        return
    for model in statuses:
        if not model.exists:
            print(f"{model.model}: not registered yet")
            continue
        print(f"{model.model}:")
        for role in ("champion", "previous", "challenger", "latest"):
            summary = getattr(model, role)
            if summary is None:
                print(f"  {role:<10} -")
                continue
            shown = {
                k: round(v, 4) for k, v in sorted(summary.metrics.items()) if "baseline_" not in k
            }
            print(f"  {role:<10} v{summary.version}  {shown}")


@app.command("promote")
def promote(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="binary, multiclass or clustering")],
    version: Annotated[str, typer.Argument(help="Registered version number to serve")],
) -> None:
    """Make VERSION the champion of KIND (the current champion becomes `previous`)."""
    from mingo import registered_model_name
    from mingo.promotion import promote_version
    from mingo.registry import CHAMPION, get_alias_version, set_version_tags, version_exists
    from mingo.retraining_lock import RetrainingInProgressError, retraining_lock
    from mingo.tags import DECISION_TAG_PREFIX
    from mingo.tracking import mlflow_client

    model_kind = parse_kind(kind)
    name = registered_model_name(model_kind)
    settings = settings_of(ctx)
    client = mlflow_client(settings)
    if not version_exists(client, model_kind, version):
        print(f"mingo models promote: {name} has no version {version}", file=sys.stderr)
        raise typer.Exit(code=1)
    try:
        with retraining_lock(model_kind, settings.home):
            before = get_alias_version(client, model_kind, CHAMPION)
            promote_version(client, model_kind, version, expected_champion=before)
            set_version_tags(
                client,
                model_kind,
                version,
                {
                    f"{DECISION_TAG_PREFIX}{key}": value
                    for key, value in {
                        "promoted": "true",
                        "forced": "true",
                        "reason": "promoted by hand (mingo models promote)",
                        "champion_version_before": before or "",
                        "champion_version_after": version,
                        "decided_at": datetime.now(UTC).isoformat(),
                    }.items()
                },
            )
    except RetrainingInProgressError as error:
        print(f"mingo models promote: {error}", file=sys.stderr)
        raise typer.Exit(code=EXIT_BUSY) from error
    print(
        json.dumps(
            {"model": name, "champion_version_before": before, "champion_version_after": version}
        )
    )


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="binary, multiclass or clustering")],
) -> None:
    """champion <- previous; previous <- the version it had replaced (or none)."""
    from mingo import registered_model_name
    from mingo.promotion import rollback as rollback_champion
    from mingo.registry import PREVIOUS, get_alias_version
    from mingo.retraining_lock import RetrainingInProgressError, retraining_lock
    from mingo.tracking import mlflow_client

    model_kind = parse_kind(kind)
    settings = settings_of(ctx)
    client = mlflow_client(settings)
    try:
        with retraining_lock(model_kind, settings.home):
            old, new = rollback_champion(client, model_kind)
    except LookupError as error:
        print(f"mingo models rollback: {error}", file=sys.stderr)
        raise typer.Exit(code=1) from error
    except RetrainingInProgressError as error:
        print(f"mingo models rollback: {error}", file=sys.stderr)
        raise typer.Exit(code=EXIT_BUSY) from error
    print(
        json.dumps(
            {
                "model": registered_model_name(model_kind),
                "champion_version_before": old,
                "champion_version_after": new,
                "previous_version_after": get_alias_version(client, model_kind, PREVIOUS),
            }
        )
    )
