"""Find credentials written as literal values in YAML files (Helm values, manifests).

A finding is a scalar whose key names a credential (password, secret, token, secret key, ...)
and whose value is a non-empty literal, an env entry `{name: <CREDENTIAL_VAR>, value: ...}`, or a
value that looks like a key whatever its name (AWS access key id, PEM private key). Keys that
name a Secret or a key inside one (`existingSecret`, `passwordSecretName`, `usernameKey`, ...)
and `{secret: NAME, key: KEY}` references are references, not credentials. An S3 access key id
is an identity (like a user name), not a credential; its secret key is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CREDENTIAL_WORDS = re.compile(
    r"(password|passwd|passphrase|secret|token|apikey|secretkey|secretaccesskey|privatekey|"
    r"encryptionkey|fernetkey|connectionstring|credentials?)$"
)
# Key endings and prefixes that make the value a reference to a Secret, not the credential.
REFERENCE_SUFFIXES = ("name", "key", "keyref", "ref", "keyname", "path", "file", "secretname")
REFERENCE_PREFIXES = ("existing", "keyof")
# Keys whose value is, by the chart's own definition, the name of a Kubernetes Secret.
SECRET_NAME_KEYS = {"credentialssecret", "superusersecret"}
CREDENTIAL_LOOKING_VALUE = re.compile(r"AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----")


@dataclass(frozen=True)
class Finding:
    file: Path
    where: str
    reason: str


def normalized(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def names_a_credential(key: str) -> bool:
    key = normalized(key)
    if key in SECRET_NAME_KEYS or key.startswith(REFERENCE_PREFIXES):
        return False
    if CREDENTIAL_WORDS.search(key):
        return True
    return not key.endswith(REFERENCE_SUFFIXES) and bool(
        re.search(r"(password|secretaccesskey|apikey)", key)
    )


def is_literal(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool) and str(value) != ""


# Shapes that name a Secret and a key in it: MinGo's `{secret, key}`, and the Airflow chart's
# `secret:` list entries `{envName, secretName, secretKey}` (secretKey is the key's name there).
SECRET_REFERENCE_SHAPES = (("secret", "key"), ("secretName", "secretKey"))


def is_secret_reference(mapping: dict[str, Any]) -> bool:
    return any(
        set(mapping) >= set(shape) and all(isinstance(mapping[field], str) for field in shape)
        for shape in SECRET_REFERENCE_SHAPES
    )


def scan_node(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        if is_secret_reference(node):
            return
        env_name = node.get("name")
        if (
            isinstance(env_name, str)
            and names_a_credential(env_name)
            and is_literal(node.get("value"))
        ):
            yield where, f"env {env_name} has a literal value"
        for key, value in node.items():
            path = f"{where}.{key}"
            if isinstance(key, str) and names_a_credential(key) and is_literal(value):
                yield path, f"{key} is a literal credential"
            else:
                yield from scan_node(value, path)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from scan_node(item, f"{where}[{index}]")
    elif isinstance(node, str) and CREDENTIAL_LOOKING_VALUE.search(node):
        yield where, "value looks like an access key or a private key"


def scan_file(path: Path) -> list[Finding]:
    findings: list[Finding] = []
    for index, document in enumerate(yaml.safe_load_all(path.read_text())):
        for where, reason in scan_node(document, f"doc{index}"):
            findings.append(Finding(path, where, reason))
    return findings


def scan_tree(root: Path) -> list[Finding]:
    findings: list[Finding] = []
    for path in sorted(root.rglob("*.yaml")) + sorted(root.rglob("*.yml")):
        # Chart templates are Go templates, not YAML; their rendered output is checked instead.
        if "templates" in path.relative_to(root).parts:
            continue
        findings.extend(scan_file(path))
    return findings
