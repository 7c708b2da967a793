"""Run one Kubernetes pod's container with podman, as the kubelet would start it.

What is taken from the pod, and how it maps:
- `image` -> the image (it must exist locally: `make images`);
- `command` / `args` -> `--entrypoint` (JSON) / the arguments; with no `command` the image's
  ENTRYPOINT stays and `args` replace its CMD: Kubernetes' rule;
- `securityContext.runAsUser/runAsGroup` (the container's, else the pod's) -> `--user UID:GID`;
  the pod's `fsGroup` -> `--group-add`;
- `capabilities.drop`, `allowPrivilegeEscalation: false` -> `--cap-drop`,
  `--security-opt no-new-privileges`;
- `envFrom` (ConfigMap, Secret) and `env` (`value`, `secretKeyRef`, `configMapKeyRef`, the
  downward API's `fieldRef` to the pod's name, namespace, labels and annotations) -> `--env`,
  resolved from the ConfigMaps and Secrets of the pod's namespace; a missing one is an error,
  as the kubelet's CreateContainerConfigError;
- `volumeMounts` (with `subPath`) -> `--volume` of the host path the caller gives per volume;
- what the kubelet adds to every pod with a service account (the token under
  /var/run/secrets/kubernetes.io/serviceaccount, KUBERNETES_SERVICE_HOST/PORT) -> the same,
  pointing at an address the caller chooses (there is no API server here).

The network is the host's, so the pod reaches the servers the test session started on loopback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class PodConfigError(RuntimeError):
    """The pod could not start in a cluster either (e.g. a Secret key it names is missing)."""


def engine() -> str:
    return os.environ.get("CONTAINER_ENGINE") or shutil.which("podman") or "podman"


def engine_env() -> dict[str, str]:
    env = dict(os.environ)
    if Path(engine()).name == "podman":
        env.setdefault("CONTAINERS_CONF", str(REPO_ROOT / "docker" / "containers.conf"))
    return env


def image_exists(image: str) -> bool:
    result = subprocess.run(
        [engine(), "image", "inspect", image],
        capture_output=True,
        env=engine_env(),
        timeout=60,
        check=False,
    )
    return result.returncode == 0


@dataclass
class Namespace:
    """The ConfigMaps and Secrets one namespace holds: name -> key -> value."""

    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class PodResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def explain(self) -> str:
        return (
            f"exit {self.returncode}\n$ {' '.join(self.argv[:40])} ...\n"
            f"stdout tail:\n{self.stdout[-3000:]}\nstderr tail:\n{self.stderr[-4000:]}"
        )


def _lookup(store: dict[str, dict[str, str]], what: str, name: str, key: str | None) -> Any:
    if name not in store:
        raise PodConfigError(f"{what} {name!r} not found in the pod's namespace")
    if key is None:
        return store[name]
    if key not in store[name]:
        raise PodConfigError(f"key {key!r} not found in {what} {name!r}")
    return store[name][key]


def field_value(pod: dict[str, Any], path: str) -> str:
    """The downward API's `fieldRef.fieldPath` of the pod: metadata.name / .namespace, or one
    of metadata.labels['k'] / metadata.annotations['k'] ("" when absent, as the kubelet gives)."""
    metadata = pod.get("metadata") or {}
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if match:
        return str((metadata.get(match[1]) or {}).get(match[2], ""))
    if path in ("metadata.name", "metadata.namespace"):
        return str(metadata.get(path.split(".")[1], ""))
    raise PodConfigError(f"unsupported fieldRef {path!r}")


def container_env(
    container: dict[str, Any], namespace: Namespace, pod: dict[str, Any] | None = None
) -> dict[str, str]:
    """The environment the kubelet gives the container: envFrom first, then env (which wins)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            ref = source["configMapRef"]
            values = _lookup(namespace.config_maps, "ConfigMap", ref["name"], None)
        else:
            ref = source["secretRef"]
            values = _lookup(namespace.secrets, "Secret", ref["name"], None)
        env.update({prefix + key: value for key, value in values.items()})
    for item in container.get("env") or []:
        if "valueFrom" not in item:
            env[item["name"]] = item.get("value", "")
            continue
        source = item["valueFrom"]
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[item["name"]] = _lookup(namespace.secrets, "Secret", ref["name"], ref["key"])
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[item["name"]] = _lookup(namespace.config_maps, "ConfigMap", ref["name"], ref["key"])
        elif "fieldRef" in source:
            env[item["name"]] = field_value(pod or {}, source["fieldRef"]["fieldPath"])
        else:
            raise PodConfigError(f"unsupported valueFrom in {item}")
    return env


def podman_argv(
    pod: dict[str, Any],
    namespace: Namespace,
    *,
    volumes: dict[str, Path] | None = None,
    api_server: tuple[str, int] | None = None,
    service_account_dir: Path | None = None,
    name: str | None = None,
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
) -> list[str]:
    """The `podman run` of the pod's first container (a sanitized V1Pod manifest)."""
    spec = pod["spec"]
    (container,) = [c for c in spec["containers"] if c["name"] == "base"] or spec["containers"][:1]
    pod_security = spec.get("securityContext") or {}
    security = container.get("securityContext") or {}
    argv = [engine(), "run", "--rm", "--network", "host", "--pull", "never", *(extra_args or [])]
    if name:
        argv += ["--name", name]
    uid = security.get("runAsUser", pod_security.get("runAsUser"))
    gid = security.get("runAsGroup", pod_security.get("runAsGroup"))
    if uid is not None:
        argv += ["--user", f"{uid}:{gid if gid is not None else 0}"]
    if pod_security.get("fsGroup") is not None:
        argv += ["--group-add", str(pod_security["fsGroup"])]
    for capability in (security.get("capabilities") or {}).get("drop") or []:
        argv += ["--cap-drop", capability]
    if security.get("allowPrivilegeEscalation") is False:
        argv += ["--security-opt", "no-new-privileges"]
    env = container_env(container, namespace, pod)
    if api_server is not None:
        env["KUBERNETES_SERVICE_HOST"], port = api_server[0], api_server[1]
        env["KUBERNETES_SERVICE_PORT"] = str(port)
    env.update(extra_env or {})
    for key, value in sorted(env.items()):
        argv += ["--env", f"{key}={value}"]
    if service_account_dir is not None:
        argv += ["--volume", f"{service_account_dir}:{SERVICE_ACCOUNT_DIR}:ro"]
    for mount in container.get("volumeMounts") or []:
        source = (volumes or {}).get(mount["name"])
        if source is None:
            raise PodConfigError(f"no host path given for volume {mount['name']!r}")
        if mount.get("subPath"):
            source = source / mount["subPath"]
        options = "ro" if mount.get("readOnly") else "rw"
        argv += ["--volume", f"{source}:{mount['mountPath']}:{options}"]
    if container.get("command") is not None:
        argv += ["--entrypoint", json.dumps(container["command"])]
    argv.append(container["image"])
    argv += container.get("args") or []
    return argv


def run_pod(
    pod: dict[str, Any], namespace: Namespace, *, timeout: float, **options: Any
) -> PodResult:
    argv = podman_argv(pod, namespace, **options)
    result = subprocess.run(
        argv, capture_output=True, text=True, env=engine_env(), timeout=timeout, check=False
    )
    return PodResult(argv, result.returncode, result.stdout, result.stderr)
