"""MINGO_RUNNER=kubernetes: each step is a pod running the pipeline image's `mingo` command.

Imported only when that runner is chosen, so a DAG file parsed for the local runner never
loads the Kubernetes provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.secret import Secret
from airflow.providers.common.compat.sdk import AirflowException
from airflow.sdk.exceptions import AirflowFailException
from kubernetes.client import models as k8s

from mingo_dags.commands import DEPLOY_VERSION, CommandBuilder, run_inputs
from mingo_dags.config import KubernetesConfig, Resources, model_name
from mingo_dags.registry_tasks import deploy_version

# Stands for the promoted version in a pod rendered outside a run (it is known once decided).
UNDECIDED_VERSION = "<promoted-version>"
# The pipeline image's user (docker/Dockerfile: `USER 10001:10001`, home /home/mingo), pinned
# by tests/pods. The KubernetesExecutor pods of the registry steps run as it, not as the
# Airflow chart's uid 50000, which has no account (and so no home) in that image.
PIPELINE_UID = 10001
PIPELINE_HOME = "/home/mingo"
# Where the official Airflow chart's worker pod template mounts airflow.cfg (which carries the
# execution API URL), the logs volume and the DAGs: the AIRFLOW_HOME of Airflow's own image,
# which the pipeline image does not set.
AIRFLOW_HOME = "/opt/airflow"
# The chart gives every worker the metadata database's PostgreSQL URL. Airflow 3's task runner
# never opens it (it talks to the execution API), but it builds the engines when it starts,
# which imports the async driver (asyncpg) that the pipeline image does not carry: the task
# pods point both settings at an unused SQLite file instead (no database credential is used).
UNUSED_METADATA_DB = "sqlite:////tmp/airflow-task-pod-unused.db"


def base_container_exit_code(pod: k8s.V1Pod | None, container: str = "base") -> int | None:
    """The exit code of the pod's `container`, once it terminated."""
    statuses = (pod.status.container_statuses if pod is not None and pod.status else None) or []
    for status in statuses:
        if status.name == container and status.state and status.state.terminated:
            return int(status.state.terminated.exit_code)
    return None


class MingoPodOperator(KubernetesPodOperator):
    """Runs `mingo <args>` in a pod; the args come from the run's params when the pod is built.

    Pods are deleted when they succeed and kept when they fail (for `kubectl logs`/`describe`);
    the container's output is streamed into the task log. No decision reads this pod's XCom:
    the registry is read afterwards instead.

    `final_exit_codes`: exits of the `mingo` command that fail the task without a retry (bad
    data, exit 2): the provider turns every failed pod into a retryable AirflowException, so
    `cleanup` (which both the blocking and the deferrable path end in) re-raises those as
    AirflowFailException.
    """

    def __init__(
        self,
        *,
        command_builder: CommandBuilder,
        deploys_version: bool = False,
        final_exit_codes: tuple[int, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.command_builder = command_builder
        self.deploys_version = deploys_version
        self.final_exit_codes = tuple(final_exit_codes)

    def cleanup(
        self,
        pod: k8s.V1Pod,
        remote_pod: k8s.V1Pod,
        xcom_result: dict[str, Any] | None = None,
        context: Any = None,
    ) -> None:
        try:
            super().cleanup(pod, remote_pod, xcom_result, context)
        except AirflowFailException:
            raise
        except AirflowException as error:
            exit_code = base_container_exit_code(remote_pod, self.base_container_name)
            if exit_code is not None and exit_code in self.final_exit_codes:
                raise AirflowFailException(
                    f"`mingo {' '.join(self.arguments or [])}` exited with {exit_code}: a "
                    "final failure (bad data), not retried; the reason is in the log above.\n"
                    f"{error}"
                ) from error
            raise

    def _inputs(self, context: Mapping[str, Any] | None) -> dict[str, Any]:
        if context is None:
            # A manifest rendered outside a run (dry run): no decision yet to take a version from.
            inputs = {**run_inputs(None), **{key: self.params[key] for key in self.params}}
            if self.deploys_version:
                inputs[DEPLOY_VERSION] = UNDECIDED_VERSION
            return inputs
        inputs = {**run_inputs(context), **context["params"]}
        if self.deploys_version:
            inputs[DEPLOY_VERSION] = deploy_version(context)
        return inputs

    def build_pod_request_obj(self, context: Any = None, *, dry_run: bool = False) -> k8s.V1Pod:
        self.arguments = self.command_builder(self._inputs(context))
        return super().build_pod_request_obj(context, dry_run=dry_run)


def pod_security_context() -> k8s.V1PodSecurityContext:
    """Pod-level context of every pod this DAG starts (steps and registry-task pods): the
    pipeline image's user and group, volumes owned by its group, the runtime's seccomp."""
    return k8s.V1PodSecurityContext(
        run_as_non_root=True,
        run_as_user=PIPELINE_UID,
        run_as_group=PIPELINE_UID,
        fs_group=PIPELINE_UID,
        seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
    )


def _resources(resources: Resources) -> k8s.V1ResourceRequirements:
    return k8s.V1ResourceRequirements(
        requests=dict(resources.requests) or None, limits=dict(resources.limits) or None
    )


def pod_step(
    *,
    task_id: str,
    kind: str,
    command_builder: CommandBuilder,
    cluster: KubernetesConfig,
    service_account: str,
    resources: Resources | None = None,
    deploys_version: bool = False,
    final_exit_codes: tuple[int, ...] = (),
    component: str = "retraining",
    **operator_kwargs: Any,
) -> MingoPodOperator:
    """A step pod admitted by Pod Security "restricted": non-root as the image's user,
    RuntimeDefault seccomp, no privilege escalation, no capabilities. `component` labels the
    pod with its DAG's job: retraining, monitoring or scoring."""
    return MingoPodOperator(
        task_id=task_id,
        command_builder=command_builder,
        deploys_version=deploys_version,
        final_exit_codes=final_exit_codes,
        name=f"{model_name(kind)}-{task_id.replace('_', '-')}",
        namespace=cluster.namespace,
        image=cluster.image,
        image_pull_policy=cluster.image_pull_policy,
        cmds=["mingo"],
        service_account_name=service_account,
        env_from=[
            k8s.V1EnvFromSource(config_map_ref=k8s.V1ConfigMapEnvSource(name=cluster.config_map))
        ],
        secrets=[
            Secret("env", variable, ref.secret, ref.key)
            for variable, ref in sorted(cluster.secret_env.items())
        ],
        container_resources=_resources(resources or cluster.step_resources),
        security_context=pod_security_context(),
        # The root filesystem stays writable: the steps write to HOME (ZenML's config, MLflow's
        # caches) and /tmp (MINGO_HOME); a read-only root needs emptyDir volumes for both.
        container_security_context=k8s.V1SecurityContext(
            allow_privilege_escalation=False,
            capabilities=k8s.V1Capabilities(drop=["ALL"]),
        ),
        labels={
            "app.kubernetes.io/part-of": "mingo",
            "app.kubernetes.io/component": component,
            "mingo.io/kind": kind,
            "mingo.io/step": task_id.replace("_", "-"),
        },
        get_logs=True,
        log_events_on_failure=True,
        on_finish_action="delete_succeeded_pod",
        startup_timeout_seconds=600,
        **operator_kwargs,
    )


def registry_task_executor_config(cluster: KubernetesConfig) -> dict[str, Any]:
    """KubernetesExecutor: run a worker-side registry step in the pipeline image.

    The steps that read the MLflow registry in the Airflow worker (champion_before, decide,
    fail_after_rollback) need `mingo` and MLflow, which the pipeline image carries (it is
    built from the project's lock file, Airflow included) and Airflow's stock image does not.
    The executor's pod is the worker pod template (the Airflow chart's: airflow.cfg with the
    execution API URL, logs and DAGs mounted under /opt/airflow, runAsUser 50000) with this
    override on top. The base container keeps Airflow's args (`python -m
    airflow.sdk.execution_time.execute_workload ...`: the image has no ENTRYPOINT) and gets:
    - the pipeline image;
    - AIRFLOW_HOME=/opt/airflow, where the template mounts airflow.cfg, logs and DAGs (Airflow's
      image sets it, the pipeline image does not; without it Airflow would look in ~/airflow);
    - the image's own user (uid/gid 10001) and HOME=/home/mingo: uid 50000 has no account in
      the pipeline image, so its HOME would be `/`, where nothing can be written;
    - the metadata database settings pointed at an unused SQLite file (UNUSED_METADATA_DB);
    - the ConfigMap and Secrets of the step pods. The task pod lives in Airflow's namespace,
      which must hold the same ConfigMap and Secrets.
    """
    return {
        "pod_override": k8s.V1Pod(
            spec=k8s.V1PodSpec(
                # Replaces the worker template's pod-level context (uid 50000, no seccomp).
                security_context=pod_security_context(),
                containers=[
                    k8s.V1Container(
                        name="base",
                        image=cluster.image,
                        env_from=[
                            k8s.V1EnvFromSource(
                                config_map_ref=k8s.V1ConfigMapEnvSource(name=cluster.config_map)
                            )
                        ],
                        env=[
                            k8s.V1EnvVar(name="AIRFLOW_HOME", value=AIRFLOW_HOME),
                            k8s.V1EnvVar(name="HOME", value=PIPELINE_HOME),
                            k8s.V1EnvVar(
                                name="AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", value=UNUSED_METADATA_DB
                            ),
                            k8s.V1EnvVar(
                                name="AIRFLOW__CORE__SQL_ALCHEMY_CONN", value=UNUSED_METADATA_DB
                            ),
                            *(
                                k8s.V1EnvVar(
                                    name=variable,
                                    value_from=k8s.V1EnvVarSource(
                                        secret_key_ref=k8s.V1SecretKeySelector(
                                            name=ref.secret, key=ref.key
                                        )
                                    ),
                                )
                                for variable, ref in sorted(cluster.secret_env.items())
                            ),
                        ],
                        security_context=k8s.V1SecurityContext(
                            run_as_user=PIPELINE_UID,
                            run_as_group=PIPELINE_UID,
                            run_as_non_root=True,
                            allow_privilege_escalation=False,
                            capabilities=k8s.V1Capabilities(drop=["ALL"]),
                        ),
                    )
                ],
            )
        )
    }
