"""`mingo deploy roll | smoke-test | rollback KIND`: one subcommand per deploy task of the DAG.

- `roll KIND [--version V]`: pin Deployment `<kind>-prediction` to V (default: the champion)
  and wait for the rollout. The pin is the pod-template annotation `mingo.io/model-version`,
  which the chart hands the pods as MINGO_MODEL_VERSION: they load exactly V, never an alias,
  and `kubectl rollout undo` restores the previous pin. `--local`: no cluster; reload the
  local `mingo serve` at --base-url (it loads the champion), or say there is nothing to roll.
- `smoke-test KIND [--version V]`: the service answers `/readyz` and `/predict` with exactly
  V. The DAG passes the version it deployed, so a moved alias cannot make it check another.
- `rollback KIND [--version V]`: undo V (default: the current champion): the champion alias
  goes back to `previous` while V is champion, and the Deployment follows; a second run is a
  no-op. The output names the version undone and the one restored.

Exit 0 when the step did its job; 1 when it failed (the message says why). Kubernetes,
MLflow and HTTP libraries are imported inside the commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mingo import ModelKind
from mingo.cli.context import settings_of

if TYPE_CHECKING:
    from kubernetes.client import AppsV1Api

DEFAULT_TIMEOUT_S = 600.0
DEFAULT_READY_TIMEOUT_S = 60.0

app = typer.Typer(
    help="Deploy steps of the prediction services: roll to a version, smoke-test it, undo it.",
    no_args_is_help=True,
)

Kind = Annotated[ModelKind, typer.Argument(help="binary, multiclass or clustering")]
Version = Annotated[
    str | None,
    typer.Option("--version", help="Model version of mingo-KIND (default: the champion)"),
]
Namespace = Annotated[str, typer.Option("--namespace", "-n", help="Namespace of the Deployment")]
Timeout = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for the rollout to finish", min=1)
]
BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="MINGO_PREDICTION_URL",
        help="Prediction service URL (may use {kind}, {namespace}, {name}); default: the "
        "in-cluster Service http://<kind>-prediction.<ns>.svc.cluster.local:3000",
    ),
]
Local = Annotated[
    bool,
    typer.Option("--local", help="No cluster: act on a local `mingo serve` and the registry only"),
]
Kubeconfig = Annotated[
    str | None,
    typer.Option("--kubeconfig", help="Kubeconfig file (default: in-cluster, then $KUBECONFIG)"),
]
Context = Annotated[str | None, typer.Option("--context", help="Kubeconfig context")]
ReadyTimeout = Annotated[
    float, typer.Option("--ready-timeout", help="Seconds to wait for /readyz", min=0)
]


def _echo(message: str) -> None:
    typer.echo(message)


def _fail(error: Exception) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(code=1)


def _apps(kubeconfig: str | None, context: str | None) -> AppsV1Api:
    from mingo.deploy.kubernetes import load_apps_api

    return load_apps_api(kubeconfig, context)


@app.command("roll")
def roll(
    ctx: typer.Context,
    kind: Kind,
    version: Version = None,
    namespace: Namespace = "mingo",
    timeout: Timeout = DEFAULT_TIMEOUT_S,
    local: Local = False,
    base_url: BaseUrl = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Pin the `<kind>-prediction` Deployment to a model version and wait for the rollout."""
    from mingo.deploy.kubernetes import DeployError, deployment_name
    from mingo.deploy.local import reload_local_service
    from mingo.deploy.steps import resolve_version, roll_to, service_base_url
    from mingo.tracking import mlflow_client

    settings = settings_of(ctx)
    try:
        target = resolve_version(mlflow_client(settings), kind, version)
        if local:
            if base_url is None:
                _echo(
                    f"no cluster and no --base-url: nothing to roll. A local `mingo serve {kind}` "
                    f"loads the champion when it starts; restart it, or POST /admin/reload to "
                    f"it, to serve version {target}."
                )
                return
            url = service_base_url(kind, namespace, base_url)
            served = reload_local_service(url, expected_version=target, api_key=settings.api_key)
            _echo(f"{url} reloaded: now serving version {served}")
            return
        roll_to(
            _apps(kubeconfig, context),
            kind=kind,
            namespace=namespace,
            version=target,
            timeout_s=timeout,
            log=_echo,
        )
        _echo(f"{namespace}/{deployment_name(kind)} serves version {target}")
    except DeployError as error:
        raise _fail(error) from error


@app.command("smoke-test")
def smoke_test(
    ctx: typer.Context,
    kind: Kind,
    version: Version = None,
    namespace: Namespace = "mingo",
    base_url: BaseUrl = None,
    ready_timeout: ReadyTimeout = DEFAULT_READY_TIMEOUT_S,
) -> None:
    """Check the service is ready and serves exactly the version (default: the champion)."""
    from mingo.deploy.kubernetes import DeployError
    from mingo.deploy.smoke import SmokeTestError
    from mingo.deploy.steps import champion_version, check_serves, service_base_url

    settings = settings_of(ctx)
    try:
        if version is None:
            from mingo.tracking import mlflow_client

            version = champion_version(mlflow_client(settings), kind)
        check_serves(
            service_base_url(kind, namespace, base_url),
            kind=kind,
            version=version,
            api_key=settings.api_key,
            ready_timeout_s=ready_timeout,
            log=_echo,
        )
    except (DeployError, SmokeTestError) as error:
        raise _fail(error) from error


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    kind: Kind,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="The version to undo (default: the current champion); when it is no longer "
            "the champion nothing moves in the registry, so a re-run with --version is a no-op "
            "(without it, each run undoes whatever is champion then)",
        ),
    ] = None,
    namespace: Namespace = "mingo",
    timeout: Timeout = DEFAULT_TIMEOUT_S,
    local: Local = False,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
) -> None:
    """Undo a version: champion alias back to `previous`, the Deployment rolled with it."""
    from mingo.deploy.kubernetes import DeployError
    from mingo.deploy.steps import undo
    from mingo.tracking import mlflow_client

    settings = settings_of(ctx)
    try:
        undo(
            None if local else _apps(kubeconfig, context),
            mlflow_client(settings),
            kind=kind,
            namespace=namespace,
            version=version,
            timeout_s=timeout,
            log=_echo,
        )
    except DeployError as error:
        raise _fail(error) from error
