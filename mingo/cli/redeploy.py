"""`mingo redeploy KIND`: roll the prediction service to the registry's champion and check it.

Default (Kubernetes): patch the `<kind>-prediction` Deployment in the namespace, wait for the
rollout, smoke-test it through its Service, and on a failed smoke test roll the champion
alias back to `previous`, redeploy that, and exit 1. The other modes are the single steps
the Airflow DAGs run as separate tasks: `--skip-smoke-test`, `--smoke-test-only`,
`--rollback`; `--local` targets a local `mingo serve` (reload via --base-url) instead of a
cluster. Kubernetes, MLflow and HTTP libraries are imported inside the command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mingo import ModelKind

DEFAULT_TIMEOUT_S = 600.0


def _echo(message: str) -> None:
    typer.echo(message)


def redeploy(
    kind: Annotated[ModelKind, typer.Argument(help="binary, multiclass or clustering")],
    namespace: Annotated[
        str, typer.Option("--namespace", "-n", help="Namespace of the Deployment")
    ] = "mingo",
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the rollout to finish", min=1)
    ] = DEFAULT_TIMEOUT_S,
    base_url: Annotated[
        str | None,
        typer.Option(
            envvar="MINGO_PREDICTION_URL",
            help="Prediction service URL for the smoke test (may use {kind}, {namespace}, "
            "{name}); default: the in-cluster Service http://<kind>-prediction.<ns>.svc."
            "cluster.local:3000",
        ),
    ] = None,
    skip_smoke_test: Annotated[
        bool, typer.Option("--skip-smoke-test", help="Roll and wait only")
    ] = False,
    smoke_test_only: Annotated[
        bool,
        typer.Option("--smoke-test-only", help="Only check the service serves the champion"),
    ] = False,
    rollback: Annotated[
        bool,
        typer.Option("--rollback", help="Move the champion alias back to `previous`, then roll"),
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
    ] = 60.0,
    kubeconfig: Annotated[
        str | None, typer.Option(help="Kubeconfig file (default: in-cluster, then $KUBECONFIG)")
    ] = None,
    context: Annotated[str | None, typer.Option(help="Kubeconfig context")] = None,
) -> None:
    """Roll the `<kind>-prediction` Deployment to the champion, wait, smoke-test, roll back."""
    from mingo.config import load_settings
    from mingo.deploy.kubernetes import DeployError, load_apps_api
    from mingo.deploy.local import reload_local_service
    from mingo.deploy.redeploy import (
        champion_version,
        check_serves_champion,
        redeploy_champion,
        rollback_champion,
        service_base_url,
    )
    from mingo.tracking import mlflow_client

    if sum((skip_smoke_test, smoke_test_only, rollback)) > 1:
        raise typer.BadParameter(
            "choose at most one of --skip-smoke-test, --smoke-test-only, --rollback"
        )
    settings = load_settings()
    url = service_base_url(kind, namespace, base_url)
    try:
        client = mlflow_client(settings)
        if smoke_test_only:
            check_serves_champion(
                client,
                kind=kind,
                base_url=url,
                api_key=settings.api_key,
                ready_timeout_s=smoke_ready_timeout,
                log=_echo,
            )
            return
        if local:
            if rollback:
                rollback_champion(
                    None, client, kind=kind, namespace=namespace, timeout_s=timeout, log=_echo
                )
            version = champion_version(client, kind)
            if base_url is None:
                _echo(
                    f"no cluster and no --base-url: nothing to roll. A local `mingo serve {kind}` "
                    f"loads the champion (version {version}) when it starts; restart it, or "
                    "POST /admin/reload to it, to serve this version."
                )
                return
            served = reload_local_service(url, expected_version=version, api_key=settings.api_key)
            _echo(f"{url} reloaded: now serving version {served}")
            return
        apps = load_apps_api(kubeconfig, context)
        if rollback:
            rollback_champion(
                apps, client, kind=kind, namespace=namespace, timeout_s=timeout, log=_echo
            )
            return
        outcome = redeploy_champion(
            apps,
            client,
            kind=kind,
            namespace=namespace,
            timeout_s=timeout,
            base_url=None if skip_smoke_test else url,
            api_key=settings.api_key,
            smoke_ready_timeout_s=smoke_ready_timeout,
            log=_echo,
        )
        _echo(f"{outcome.namespace}/{outcome.deployment} serves version {outcome.version}")
    except DeployError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from error
