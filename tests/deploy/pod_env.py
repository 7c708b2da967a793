"""A container's environment as the kubelet resolves it when it starts a pod from a template.

Enough of the kubelet's rules for the deploy tests: literal `value`s with `$(VAR)` expansion
of variables defined earlier in the list (`$$` escapes), and `valueFrom.fieldRef` on the
pod's own metadata (the downward API: `metadata.annotations['k']`, `metadata.labels['k']`,
`metadata.name`, `metadata.namespace`, `spec.serviceAccountName`). A missing annotation or
label resolves to "" as it does on a node. References to ConfigMaps, Secrets and resources
(`configMapKeyRef`, `secretKeyRef`, `resourceFieldRef`, `envFrom`) are left out of the result:
these tests have no such objects to read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# `metadata.annotations['key']` / `metadata.labels['key']`, as the API server validates them.
SUBSCRIPTED_FIELD = re.compile(r"^metadata\.(annotations|labels)\['([^']+)'\]$")
VARIABLE_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")
# The pod's own fields the downward API exposes that a template already holds.
PLAIN_FIELDS = {
    "metadata.name": ("metadata", "name"),
    "metadata.namespace": ("metadata", "namespace"),
    "spec.serviceAccountName": ("spec", "serviceAccountName"),
}


class UnsupportedFieldError(ValueError):
    """A fieldRef path this resolver does not know (the kubelet might: extend it then)."""


def expand(value: str, defined: Mapping[str, str]) -> str:
    """The kubelet's `$(VAR)` expansion: defined names are replaced, unknown ones kept as
    written, `$$` is a literal `$`."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return defined[name] if name in defined else match.group(0)

    return VARIABLE_REFERENCE.sub(replace, value)


def field_value(pod: Mapping[str, Any], path: str) -> str:
    """The value of a downward-API field path on `pod` (a template or a pod, as a dict)."""
    metadata = pod.get("metadata") or {}
    subscripted = SUBSCRIPTED_FIELD.match(path)
    if subscripted:
        mapping = metadata.get(subscripted.group(1)) or {}
        return str(mapping.get(subscripted.group(2), ""))
    if path in PLAIN_FIELDS:
        section, key = PLAIN_FIELDS[path]
        return str((pod.get(section) or {}).get(key) or "")
    raise UnsupportedFieldError(f"fieldRef {path!r} is not resolved by these tests")


def container_env(pod: Mapping[str, Any], container: str | None = None) -> dict[str, str]:
    """The environment `container` (default: the only or first one) starts with."""
    containers = (pod.get("spec") or {}).get("containers") or []
    chosen = [c for c in containers if container is None or c.get("name") == container]
    if not chosen:
        raise KeyError(f"no container {container!r} in the pod template")
    resolved: dict[str, str] = {}
    for entry in chosen[0].get("env") or []:
        source = entry.get("valueFrom")
        if source is None:
            resolved[entry["name"]] = expand(str(entry.get("value") or ""), resolved)
        elif "fieldRef" in source:
            resolved[entry["name"]] = field_value(pod, source["fieldRef"]["fieldPath"])
    return resolved
