"""`mingo redeploy KIND`: roll the prediction service to the champion, check it, undo on failure.

Kept for users who call it; the DAGs run `mingo deploy roll | smoke-test | rollback` as
separate tasks, and this is a thin wrapper over the same functions (mingo.deploy.steps):
roll to the champion, smoke-test that version, and on a failed smoke test undo that version
and exit 1. The single-step flags map onto the subcommands: `--skip-smoke-test` = `deploy
roll`, `--smoke-test-only` = `deploy smoke-test`, `--rollback` = `deploy rollback`; `--local`
targets a local `mingo serve` (reload via --base-url) instead of a cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mingo.cli import deploy
from mingo.cli.context import settings_of
from mingo.cli.deploy import (
    DEFAULT_READY_TIMEOUT_S,
    DEFAULT_TIMEOUT_S,
    BaseUrl,
    Context,
    Kind,
    Kubeconfig,
    Namespace,
    Timeout,
)

if TYPE_CHECKING:
    from mingo.config import Settings


def redeploy(
    ctx: typer.Context,
    kind: Kind,
    namespace: Namespace = "mingo",
    timeout: Timeout = DEFAULT_TIMEOUT_S,
    base_url: BaseUrl = None,
    skip_smoke_test: Annotated[
        bool, typer.Option("--skip-smoke-test", help="Roll and wait only (= mingo deploy roll)")
    ] = False,
    smoke_test_only: Annotated[
        bool,
        typer.Option(
            "--smoke-test-only",
            help="Only check the service serves the champion (= mingo deploy smoke-test)",
        ),
    ] = False,
    rollback: Annotated[
        bool,
        typer.Option(
            "--rollback",
            help="Move the champion alias back to `previous`, then roll (= mingo deploy rollback)",
        ),
    ] = False,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="No cluster: reload the local service at --base-url (if given) instead",
        ),
    ] = False,
    smoke_ready_timeout: Annotated[
        float, typer.Option(help="Seconds the smoke test waits for /readyz", min=0)
    ] = DEFAULT_READY_TIMEOUT_S,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Roll the `<kind>-prediction` Deployment to the champion, wait, smoke-test, roll back."""
    if sum((skip_smoke_test, smoke_test_only, rollback)) > 1:
        raise typer.BadParameter(
            "choose at most one of --skip-smoke-test, --smoke-test-only, --rollback"
        )
    if smoke_test_only:
        deploy.smoke_test(ctx, kind, None, namespace, base_url, smoke_ready_timeout)
        return
    if rollback:
        deploy.rollback(ctx, kind, None, namespace, timeout, local, kubeconfig, context)
        if local:
            # As before: after moving the alias, the local service reloads the new champion.
            deploy.roll(ctx, kind, None, namespace, timeout, local, base_url, kubeconfig, context)
        return
    if skip_smoke_test or local:
        deploy.roll(ctx, kind, None, namespace, timeout, local, base_url, kubeconfig, context)
        return
    _roll_check_undo(
        settings_of(ctx),
        kind,
        namespace,
        timeout,
        base_url,
        smoke_ready_timeout,
        kubeconfig,
        context,
    )


def _roll_check_undo(
    settings: Settings,
    kind: Kind,
    namespace: str,
    timeout: float,
    base_url: str | None,
    smoke_ready_timeout: float,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    from mingo.deploy.kubernetes import DeployError, load_apps_api
    from mingo.deploy.redeploy import redeploy_champion
    from mingo.deploy.steps import service_base_url
    from mingo.tracking import mlflow_client

    try:
        outcome = redeploy_champion(
            load_apps_api(kubeconfig, context),
            mlflow_client(settings),
            kind=kind,
            namespace=namespace,
            timeout_s=timeout,
            base_url=service_base_url(kind, namespace, base_url),
            api_key=settings.api_key,
            smoke_ready_timeout_s=smoke_ready_timeout,
            log=typer.echo,
        )
    except DeployError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from error
    typer.echo(f"{outcome.namespace}/{outcome.deployment} serves version {outcome.version}")
