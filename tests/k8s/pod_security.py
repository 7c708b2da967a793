"""The Kubernetes Pod Security Standards, "restricted" profile (baseline + restricted controls),
as documented for Kubernetes v1.33 at
https://kubernetes.io/docs/concepts/security/pod-security-standards/ and implemented by
k8s.io/pod-security-admission/policy (the admission controller's checks; control names are its
check IDs).

`restricted_violations(pod)` takes a pod-shaped manifest in API JSON form (camelCase keys:
`metadata` and `spec`, as `kubectl get -o json` or `ApiClient().sanitize_for_serialization`
give it) and returns {control: [why, ...]} for every control the pod breaks; {} means the pod is
admitted by a namespace labelled `pod-security.kubernetes.io/enforce: restricted`.

Every container list is checked: containers, initContainers and ephemeralContainers. Not
modelled, so this checker is stricter than the admission controller there: the relaxations for
pods in a user namespace (`hostUsers: false`, feature gate UserNamespacesPodSecurityStandards,
off by default in 1.33) and the per-cluster exemptions of the admission configuration. The safe
sysctls are the documented v1.33 list (through the v1.29 additions); a sysctl added to the
admission controller's list later is reported here (stricter, never looser).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

# Baseline: capabilities a container may add.
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
# Restricted: the only capability a container may add back after dropping ALL.
RESTRICTED_ADDABLE_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
# Baseline: SELinux types (container_engine_t since v1.31); user and role must stay unset.
SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
# Baseline: safe sysctls (ip_local_reserved_ports since v1.27, the tcp_* ones since v1.29).
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
# Restricted: volume sources a pod may use.
RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
ALLOWED_SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
ALLOWED_APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

BASELINE_CONTROLS = (
    "hostProcess",
    "hostNamespaces",
    "privileged",
    "capabilities_baseline",
    "hostPathVolumes",
    "hostPorts",
    "appArmorProfile",
    "seLinuxOptions",
    "procMount",
    "seccompProfile_baseline",
    "sysctls",
)
RESTRICTED_CONTROLS = (
    "restrictedVolumes",
    "allowPrivilegeEscalation",
    "runAsNonRoot",
    "runAsUser",
    "seccompProfile_restricted",
    "capabilities_restricted",
)
CONTROLS = BASELINE_CONTROLS + RESTRICTED_CONTROLS
# At the restricted level these checks replace baseline ones (the admission controller's
# OverrideCheckIDs): a hostPath volume is reported as restrictedVolumes, and so on.
RESTRICTED_OVERRIDES = {
    "restrictedVolumes": "hostPathVolumes",
    "seccompProfile_restricted": "seccompProfile_baseline",
    "capabilities_restricted": "capabilities_baseline",
}
LEVELS = ("baseline", "restricted")

Violations = dict[str, list[str]]


def containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, container) for every container of every list."""
    for field in CONTAINER_LISTS:
        for container in spec.get(field) or []:
            yield f"{field}[{container.get('name', '?')}]", container


def security_context(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("securityContext") or {}


def is_windows(spec: Mapping[str, Any]) -> bool:
    # The Linux-only restricted controls (v1.25+) skip pods that declare spec.os.name=windows.
    return bool((spec.get("os") or {}).get("name") == "windows")


def restricted_violations(pod: Mapping[str, Any]) -> Violations:
    """What keeps the pod out of a namespace that enforces "restricted"."""
    return violations(pod, "restricted")


def violations(pod: Mapping[str, Any], level: str) -> Violations:
    """{control: [why, ...]} of the pod at `level` ("baseline" or "restricted")."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    found = all_checks(pod)
    if level == "baseline":
        return {control: why for control, why in found.items() if control in BASELINE_CONTROLS}
    for restricted, baseline in RESTRICTED_OVERRIDES.items():
        if baseline in found:
            found.setdefault(restricted, []).extend(found.pop(baseline))
    return found


def all_checks(pod: Mapping[str, Any]) -> Violations:
    metadata: Mapping[str, Any] = pod.get("metadata") or {}
    spec: Mapping[str, Any] = pod.get("spec") or {}
    found: Violations = {}

    def add(control: str, why: str) -> None:
        found.setdefault(control, []).append(why)

    pod_context = security_context(spec)
    all_containers = list(containers(spec))

    # --- baseline ---
    if (pod_context.get("windowsOptions") or {}).get("hostProcess"):
        add("hostProcess", "pod sets windowsOptions.hostProcess")
    for where, container in all_containers:
        if (security_context(container).get("windowsOptions") or {}).get("hostProcess"):
            add("hostProcess", f"{where} sets windowsOptions.hostProcess")

    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            add("hostNamespaces", f"{field}=true")

    for where, container in all_containers:
        if security_context(container).get("privileged"):
            add("privileged", f"{where} is privileged")

    for where, container in all_containers:
        added = (security_context(container).get("capabilities") or {}).get("add") or []
        for capability in added:
            if capability not in BASELINE_CAPABILITIES:
                add("capabilities_baseline", f"{where} adds {capability}")

    for volume in spec.get("volumes") or []:
        if "hostPath" in volume and volume["hostPath"] is not None:
            add("hostPathVolumes", f"volume {volume.get('name')} is a hostPath")

    for where, container in all_containers:
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                add("hostPorts", f"{where} uses hostPort {port['hostPort']}")

    apparmor_type = (pod_context.get("appArmorProfile") or {}).get("type")
    if apparmor_type is not None and apparmor_type not in ALLOWED_APPARMOR_TYPES:
        add("appArmorProfile", f"pod appArmorProfile.type={apparmor_type}")
    for where, container in all_containers:
        apparmor_type = (security_context(container).get("appArmorProfile") or {}).get("type")
        if apparmor_type is not None and apparmor_type not in ALLOWED_APPARMOR_TYPES:
            add("appArmorProfile", f"{where} appArmorProfile.type={apparmor_type}")
    for key, value in (metadata.get("annotations") or {}).items():
        if key.startswith(APPARMOR_ANNOTATION_PREFIX) and not (
            value == "runtime/default" or str(value).startswith("localhost/")
        ):
            add("appArmorProfile", f"annotation {key}={value}")

    def check_selinux(where: str, options: Mapping[str, Any] | None) -> None:
        if not options:
            return
        if (options.get("type") or "") not in SELINUX_TYPES:
            add("seLinuxOptions", f"{where} seLinuxOptions.type={options['type']}")
        for field in ("user", "role"):
            if options.get(field):
                add("seLinuxOptions", f"{where} sets seLinuxOptions.{field}")

    check_selinux("pod", pod_context.get("seLinuxOptions"))
    for where, container in all_containers:
        check_selinux(where, security_context(container).get("seLinuxOptions"))

    for where, container in all_containers:
        proc_mount = security_context(container).get("procMount")
        if proc_mount not in (None, "Default"):
            add("procMount", f"{where} procMount={proc_mount}")

    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    if pod_seccomp == "Unconfined":
        add("seccompProfile_baseline", "pod seccompProfile.type=Unconfined")
    for where, container in all_containers:
        if (security_context(container).get("seccompProfile") or {}).get("type") == "Unconfined":
            add("seccompProfile_baseline", f"{where} seccompProfile.type=Unconfined")

    for sysctl in pod_context.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            add("sysctls", f"sysctl {sysctl.get('name')}")

    # --- restricted ---
    for volume in spec.get("volumes") or []:
        sources = {key for key, value in volume.items() if key != "name" and value is not None}
        if not sources & RESTRICTED_VOLUME_TYPES:
            add("restrictedVolumes", f"volume {volume.get('name')} uses {sorted(sources)}")

    windows = is_windows(spec)
    if not windows:
        for where, container in all_containers:
            if security_context(container).get("allowPrivilegeEscalation") is not False:
                add("allowPrivilegeEscalation", f"{where} does not set it to false")

    pod_non_root = pod_context.get("runAsNonRoot")
    if pod_non_root is False:
        add("runAsNonRoot", "pod sets runAsNonRoot=false")
    for where, container in all_containers:
        container_non_root = security_context(container).get("runAsNonRoot")
        if container_non_root is False:
            add("runAsNonRoot", f"{where} sets runAsNonRoot=false")
        elif container_non_root is None and pod_non_root is not True:
            add("runAsNonRoot", f"neither the pod nor {where} sets runAsNonRoot=true")

    if pod_context.get("runAsUser") == 0:
        add("runAsUser", "pod runAsUser=0")
    for where, container in all_containers:
        if security_context(container).get("runAsUser") == 0:
            add("runAsUser", f"{where} runAsUser=0")

    if not windows:
        if pod_seccomp is not None and pod_seccomp not in ALLOWED_SECCOMP_TYPES:
            add("seccompProfile_restricted", f"pod seccompProfile.type={pod_seccomp}")
        for where, container in all_containers:
            container_seccomp = (security_context(container).get("seccompProfile") or {}).get(
                "type"
            )
            if container_seccomp is None:
                if pod_seccomp is None:
                    add("seccompProfile_restricted", f"neither the pod nor {where} sets it")
            elif container_seccomp not in ALLOWED_SECCOMP_TYPES:
                add("seccompProfile_restricted", f"{where} seccompProfile.type={container_seccomp}")

        for where, container in all_containers:
            capabilities = security_context(container).get("capabilities") or {}
            if "ALL" not in (capabilities.get("drop") or []):
                add("capabilities_restricted", f"{where} does not drop ALL")
            for capability in capabilities.get("add") or []:
                if capability not in RESTRICTED_ADDABLE_CAPABILITIES:
                    add("capabilities_restricted", f"{where} adds {capability}")

    return found


POD_TEMPLATE_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}
)


def pods_of(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pod (or pod template, as a pod) an object would create: [] for other kinds."""
    kind = obj.get("kind")
    if kind == "Pod":
        return [dict(obj)]
    if kind in POD_TEMPLATE_KINDS:
        template = obj["spec"]["template"]
        return [{"metadata": template.get("metadata") or {}, "spec": template["spec"]}]
    if kind == "CronJob":
        template = obj["spec"]["jobTemplate"]["spec"]["template"]
        return [{"metadata": template.get("metadata") or {}, "spec": template["spec"]}]
    return []
