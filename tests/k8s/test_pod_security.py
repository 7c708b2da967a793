"""Pod Security Standards "restricted": the checker catches each control, and every pod MinGo
makes (the chart's, the DAGs', Airflow's own components) passes it."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.k8s.conftest import RenderedChart
from tests.k8s.helm import REPO_ROOT, render_chart
from tests.k8s.pod_security import (
    BASELINE_CONTROLS,
    CONTROLS,
    RESTRICTED_OVERRIDES,
    pods_of,
    restricted_violations,
    violations,
)

RESTRICTED_CONTAINER_CONTEXT: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}


def compliant_pod() -> dict[str, Any]:
    """A pod the admission controller admits under "restricted", with every container list."""
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "ok",
            "annotations": {
                "container.apparmor.security.beta.kubernetes.io/app": "runtime/default"
            },
        },
        "spec": {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
                "appArmorProfile": {"type": "RuntimeDefault"},
                "seLinuxOptions": {"type": "container_t", "level": "s0:c1,c2"},
                "sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}],
            },
            "containers": [
                {
                    "name": "app",
                    "image": "app",
                    "ports": [{"containerPort": 80}],
                    "securityContext": {
                        **RESTRICTED_CONTAINER_CONTEXT,
                        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                        "procMount": "Default",
                    },
                }
            ],
            "initContainers": [
                {"name": "init", "image": "init", "securityContext": RESTRICTED_CONTAINER_CONTEXT}
            ],
            "ephemeralContainers": [
                {"name": "debug", "image": "debug", "securityContext": RESTRICTED_CONTAINER_CONTEXT}
            ],
            "volumes": [
                {"name": "cache", "emptyDir": {}},
                {"name": "config", "configMap": {"name": "c"}},
                {"name": "claim", "persistentVolumeClaim": {"claimName": "c"}},
            ],
        },
    }
    return copy.deepcopy(pod)  # no container shares a dict with another


def test_a_compliant_pod_passes() -> None:
    assert restricted_violations(compliant_pod()) == {}
    assert violations(compliant_pod(), "baseline") == {}


Mutation = Callable[[dict[str, Any]], None]


def container_context(list_name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def context(spec: dict[str, Any]) -> dict[str, Any]:
        return spec[list_name][0].setdefault("securityContext", {})

    return context


app = container_context("containers")
init = container_context("initContainers")
debug = container_context("ephemeralContainers")


def pod_context(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["securityContext"]


# (control, how to plant it); each is planted in a different container list where it applies.
PLANTED: list[tuple[str, str, Mutation]] = [
    ("hostProcess", "pod", lambda s: pod_context(s).update(windowsOptions={"hostProcess": True})),
    ("hostProcess", "init", lambda s: init(s).update(windowsOptions={"hostProcess": True})),
    ("hostNamespaces", "hostNetwork", lambda s: s.update(hostNetwork=True)),
    ("hostNamespaces", "hostPID", lambda s: s.update(hostPID=True)),
    ("hostNamespaces", "hostIPC", lambda s: s.update(hostIPC=True)),
    ("privileged", "app", lambda s: app(s).update(privileged=True)),
    ("privileged", "ephemeral", lambda s: debug(s).update(privileged=True)),
    (
        "capabilities_baseline",
        "SYS_ADMIN",
        lambda s: app(s).update(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
    ),
    (
        "hostPathVolumes",
        "hostPath",
        lambda s: s["volumes"].append({"name": "host", "hostPath": {"path": "/"}}),
    ),
    (
        "hostPorts",
        "init",
        lambda s: s["initContainers"][0].update(ports=[{"hostPort": 8080, "containerPort": 80}]),
    ),
    (
        "appArmorProfile",
        "pod",
        lambda s: pod_context(s).update(appArmorProfile={"type": "Unconfined"}),
    ),
    ("appArmorProfile", "app", lambda s: app(s).update(appArmorProfile={"type": "Unconfined"})),
    ("seLinuxOptions", "type", lambda s: pod_context(s).update(seLinuxOptions={"type": "spc_t"})),
    ("seLinuxOptions", "user", lambda s: debug(s).update(seLinuxOptions={"user": "system_u"})),
    ("seLinuxOptions", "role", lambda s: init(s).update(seLinuxOptions={"role": "sysadm_r"})),
    ("procMount", "Unmasked", lambda s: init(s).update(procMount="Unmasked")),
    (
        "seccompProfile_baseline",
        "app Unconfined",
        lambda s: app(s).update(seccompProfile={"type": "Unconfined"}),
    ),
    (
        "sysctls",
        "unsafe",
        lambda s: pod_context(s)["sysctls"].append({"name": "kernel.msgmax", "value": "1"}),
    ),
    (
        "restrictedVolumes",
        "nfs",
        lambda s: s["volumes"].append({"name": "n", "nfs": {"server": "x", "path": "/"}}),
    ),
    ("allowPrivilegeEscalation", "unset", lambda s: init(s).pop("allowPrivilegeEscalation")),
    ("allowPrivilegeEscalation", "true", lambda s: debug(s).update(allowPrivilegeEscalation=True)),
    ("runAsNonRoot", "pod false", lambda s: pod_context(s).update(runAsNonRoot=False)),
    ("runAsNonRoot", "unset everywhere", lambda s: pod_context(s).pop("runAsNonRoot")),
    ("runAsNonRoot", "container false", lambda s: init(s).update(runAsNonRoot=False)),
    ("runAsUser", "pod", lambda s: pod_context(s).update(runAsUser=0)),
    ("runAsUser", "ephemeral", lambda s: debug(s).update(runAsUser=0)),
    (
        "seccompProfile_restricted",
        "unset everywhere",
        lambda s: pod_context(s).pop("seccompProfile"),
    ),
    (
        "capabilities_restricted",
        "no drop ALL",
        lambda s: init(s).update(capabilities={"drop": ["NET_RAW"]}),
    ),
    (
        "capabilities_restricted",
        "adds CHOWN",
        lambda s: debug(s).update(capabilities={"drop": ["ALL"], "add": ["CHOWN"]}),
    ),
]


def test_every_control_has_a_planted_violation() -> None:
    assert {control for control, _, _ in PLANTED} == set(CONTROLS)


@pytest.mark.parametrize(
    ("control", "mutation"),
    [pytest.param(control, mutation, id=f"{control}-{how}") for control, how, mutation in PLANTED],
)
def test_each_control_catches_its_planted_violation(control: str, mutation: Mutation) -> None:
    pod = compliant_pod()
    mutation(pod["spec"])
    found = restricted_violations(pod)
    # At the restricted level a few checks replace baseline ones (the admission controller's
    # OverrideCheckIDs); the baseline level names the baseline control itself.
    replaced_by = {baseline: restricted for restricted, baseline in RESTRICTED_OVERRIDES.items()}
    assert set(found) == {replaced_by.get(control, control)}, found
    if control in BASELINE_CONTROLS:
        assert set(violations(pod, "baseline")) == {control}
    else:
        assert violations(pod, "baseline") == {}


def test_container_level_settings_can_stand_in_for_the_pod_level_ones() -> None:
    pod = compliant_pod()
    del pod["spec"]["securityContext"]["runAsNonRoot"]
    del pod["spec"]["securityContext"]["seccompProfile"]
    for list_name in ("containers", "initContainers", "ephemeralContainers"):
        pod["spec"][list_name][0]["securityContext"] |= {
            "runAsNonRoot": True,
            "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"},
        }
    assert restricted_violations(pod) == {}
    pod["spec"]["ephemeralContainers"][0]["securityContext"].pop("seccompProfile")
    assert set(restricted_violations(pod)) == {"seccompProfile_restricted"}


def test_windows_pods_skip_the_linux_only_controls() -> None:
    pod = compliant_pod()
    pod["spec"]["os"] = {"name": "windows"}
    del pod["spec"]["securityContext"]["seccompProfile"]
    for list_name in ("containers", "initContainers", "ephemeralContainers"):
        pod["spec"][list_name][0]["securityContext"] = {}
    assert restricted_violations(pod) == {}


def test_an_apparmor_annotation_other_than_runtime_default_or_localhost_is_caught() -> None:
    pod = compliant_pod()
    pod["metadata"]["annotations"]["container.apparmor.security.beta.kubernetes.io/app"] = (
        "unconfined"
    )
    assert set(restricted_violations(pod)) == {"appArmorProfile"}


# --- the chart's pods ----------------------------------------------------------------------------


def chart_pods(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{obj['kind']}/{obj['metadata']['name']}", pod) for obj in objects for pod in pods_of(obj)
    ]


def test_every_pod_the_chart_renders_is_restricted(rendered: RenderedChart) -> None:
    pods = chart_pods(rendered.objects)
    assert len(pods) == 3
    for name, pod in pods:
        assert restricted_violations(pod) == {}, name


def test_the_chart_stays_restricted_with_a_model_cache_claim() -> None:
    objects = render_chart([], set_values=["serviceDefaults.modelCache.existingClaim=models"])
    for name, pod in chart_pods(objects):
        assert restricted_violations(pod) == {}, name


# --- Airflow's own components (helm-values/airflow.yaml) -----------------------------------------

AIRFLOW_VALUES = REPO_ROOT / "helm-values" / "airflow.yaml"
# Component -> the sidecar/init containers the upstream chart gives it (KubernetesExecutor,
# DAGs from git-sync, Airflow 3 with a standalone dag processor).
AIRFLOW_COMPONENTS: dict[str, tuple[str, ...]] = {
    "workers": ("gitSync",),
    "scheduler": ("waitForMigrations", "logGroomerSidecar"),
    "apiServer": ("waitForMigrations",),
    "dagProcessor": ("waitForMigrations", "logGroomerSidecar", "gitSync"),
    "triggerer": ("waitForMigrations", "logGroomerSidecar", "gitSync"),
    "migrateDatabaseJob": (),
    "createUserJob": (),
}


def airflow_values() -> dict[str, Any]:
    return yaml.safe_load(AIRFLOW_VALUES.read_text())


def airflow_component_pod(values: dict[str, Any], component: str) -> dict[str, Any]:
    """The security-relevant part of a component's pod, from the values exactly as the upstream
    chart takes them (<component>.securityContexts.pod / .container, the sidecars' own
    securityContexts.container, git-sync's dags.gitSync.securityContexts.container). Every key
    is set explicitly in the values, so the chart's fallbacks never decide."""
    settings = values[component]
    contexts = settings["securityContexts"]
    containers = [{"name": component, "image": "airflow", "securityContext": contexts["container"]}]
    for sidecar in AIRFLOW_COMPONENTS[component]:
        if sidecar == "gitSync":
            sidecar_context = values["dags"]["gitSync"]["securityContexts"]["container"]
        else:
            sidecar_context = settings[sidecar]["securityContexts"]["container"]
        containers.append({"name": sidecar, "image": "x", "securityContext": sidecar_context})
    return {
        "metadata": {"name": component},
        "spec": {"securityContext": contexts["pod"], "containers": containers},
    }


@pytest.mark.parametrize("component", sorted(AIRFLOW_COMPONENTS))
def test_airflow_components_are_restricted(component: str) -> None:
    pod = airflow_component_pod(airflow_values(), component)
    assert restricted_violations(pod) == {}
    # Airflow's image runs as uid 50000 (gid 0, which "restricted" allows).
    assert pod["spec"]["securityContext"]["runAsUser"] == 50000


def test_airflow_global_defaults_are_restricted_too() -> None:
    # Components this file does not name (and future ones) fall back to the global contexts.
    values = airflow_values()
    pod = {
        "spec": {
            "securityContext": values["securityContexts"]["pod"],
            "containers": [
                {"name": "c", "securityContext": values["securityContexts"]["containers"]}
            ],
        }
    }
    assert restricted_violations(pod) == {}


def test_git_sync_runs_as_its_own_non_root_user() -> None:
    context = airflow_values()["dags"]["gitSync"]["securityContexts"]["container"]
    assert context["runAsUser"] == 65533 and context["runAsNonRoot"] is True


# --- the DAGs' pods, built by Airflow's own code -----------------------------------------------

WORKER_POD_TEMPLATE = REPO_ROOT / "tests" / "pods" / "airflow-worker-pod-template.yaml"
# Run in a subprocess with a throwaway AIRFLOW_HOME: Airflow reads (and writes) its
# configuration when first imported. Prints every pod as JSON: each KubernetesPodOperator step's
# pod (build_pod_request_obj, as the operator creates it) and each task's KubernetesExecutor
# worker pod (PodGenerator.construct_pod: the worker pod template, the task's container and its
# executor_config pod_override, reconciled as the executor's scheduler does).
DAG_PODS_PROBE = """
import json, sys, uuid
from airflow.dag_processing.dagbag import DagBag
from airflow.executors.workloads.base import BundleInfo
from airflow.executors.workloads.task import ExecuteTask, TaskInstanceDTO
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator, workload_to_command_args
from kubernetes.client import ApiClient

dags_folder, template = sys.argv[1], sys.argv[2]
bag = DagBag(dag_folder=dags_folder)
assert not bag.import_errors, bag.import_errors
api = ApiClient()
pods = []
for dag_id, dag in sorted(bag.dags.items()):
    for task in dag.tasks:
        if isinstance(task, KubernetesPodOperator):
            pod = task.build_pod_request_obj(dry_run=True)
            pods.append({"name": f"{dag_id}.{task.task_id} (step pod)",
                         "pod": api.sanitize_for_serialization(pod)})
        ti = TaskInstanceDTO(
            id=uuid.uuid4(), task_id=task.task_id, dag_id=dag_id, run_id="manual__1",
            try_number=1, dag_version_id=uuid.uuid4(), pool_slots=1, priority_weight=1,
        )
        workload = ExecuteTask(
            ti=ti, dag_rel_path="mingo_retrain.py", bundle_info=BundleInfo(name="dags-folder"),
            token="token", log_path=None,
        )
        override = (task.executor_config or {}).get("pod_override")
        pod = PodGenerator.construct_pod(
            dag_id=dag_id, task_id=task.task_id, pod_id="worker", try_number=1,
            kube_image="apache/airflow:3.3.2", date=None,
            args=workload_to_command_args(workload), pod_override_object=override,
            base_worker_pod=PodGenerator.deserialize_model_file(template),
            namespace="airflow", scheduler_job_id="1", run_id="manual__1",
        )
        pods.append({"name": f"{dag_id}.{task.task_id} (executor worker pod)",
                     "pod": api.sanitize_for_serialization(pod)})
print(json.dumps(pods))
"""


@pytest.fixture(scope="module")
def dag_pods(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    work = tmp_path_factory.mktemp("dag-pods")
    probe = work / "dag_pods.py"
    probe.write_text(DAG_PODS_PROBE)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "MINGO_RUNNER": "kubernetes",
        "MINGO_PIPELINE_IMAGE": "registry.example/mingo-pipeline:1.2.3",
        "MINGO_DATA_URI": "s3://mingo-data/clickbus/df_t.csv",
    }
    result = subprocess.run(
        [sys.executable, str(probe), str(REPO_ROOT / "dags"), str(WORKER_POD_TEMPLATE)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    pods: list[dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return pods


def test_the_dags_make_step_pods_and_worker_pods(dag_pods: list[dict[str, Any]]) -> None:
    names = [entry["name"] for entry in dag_pods]
    assert "mingo_retrain_binary.retrain (step pod)" in names
    assert "mingo_retrain_binary.decide (executor worker pod)" in names


def test_every_dag_pod_is_restricted(dag_pods: list[dict[str, Any]]) -> None:
    failing = {
        entry["name"]: found for entry in dag_pods if (found := restricted_violations(entry["pod"]))
    }
    assert failing == {}, json.dumps(failing, indent=1)[:4000]


def test_the_dag_pod_check_would_catch_a_loosened_pod(dag_pods: list[dict[str, Any]]) -> None:
    pod = copy.deepcopy(dag_pods[0]["pod"])
    pod["spec"]["containers"][0].setdefault("securityContext", {})["privileged"] = True
    assert "privileged" in restricted_violations(pod)


def test_the_worker_pod_template_file_matches_the_airflow_values() -> None:
    # tests/pods/airflow-worker-pod-template.yaml stands for what the chart renders from
    # workers.securityContexts: the two must not drift apart.
    template = yaml.safe_load(WORKER_POD_TEMPLATE.read_text())
    workers = airflow_values()["workers"]["securityContexts"]
    assert template["spec"]["securityContext"] == workers["pod"]
    (base,) = [c for c in template["spec"]["containers"] if c["name"] == "base"]
    assert base["securityContext"] == workers["container"]
