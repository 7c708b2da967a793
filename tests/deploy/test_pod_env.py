"""The kubelet-style env resolution the pinned-version tests rely on."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.pod_env import UnsupportedFieldError, container_env, expand

TEMPLATE: dict[str, Any] = {
    "metadata": {
        "namespace": "mingo",
        "labels": {"app.kubernetes.io/name": "binary-prediction"},
        "annotations": {"mingo.io/model-version": "7"},
    },
    "spec": {
        "serviceAccountName": "mingo-prediction",
        "containers": [
            {"name": "sidecar", "env": [{"name": "ONLY_HERE", "value": "x"}]},
            {
                "name": "service",
                "env": [
                    {"name": "HOME", "value": "/var/lib/mingo/home"},
                    {"name": "CACHE", "value": "$(HOME)/cache"},
                    {"name": "LATER", "value": "$(DEFINED_BELOW)/x"},
                    {"name": "ESCAPED", "value": "$$(HOME)"},
                    {"name": "EMPTY"},
                    {
                        "name": "MINGO_MODEL_VERSION",
                        "valueFrom": {
                            "fieldRef": {
                                "fieldPath": "metadata.annotations['mingo.io/model-version']"
                            }
                        },
                    },
                    {
                        "name": "UNSET_ANNOTATION",
                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['nope']"}},
                    },
                    {
                        "name": "APP",
                        "valueFrom": {
                            "fieldRef": {"fieldPath": "metadata.labels['app.kubernetes.io/name']"}
                        },
                    },
                    {
                        "name": "NAMESPACE",
                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                    },
                    {
                        "name": "ACCOUNT",
                        "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}},
                    },
                    {
                        "name": "API_KEY",
                        "valueFrom": {"secretKeyRef": {"name": "mingo-api", "key": "api-key"}},
                    },
                    {"name": "DEFINED_BELOW", "value": "late"},
                ],
            },
        ],
    },
}


def test_literals_fieldrefs_and_skipped_references() -> None:
    assert container_env(TEMPLATE, "service") == {
        "HOME": "/var/lib/mingo/home",
        "CACHE": "/var/lib/mingo/home/cache",
        # Only variables defined earlier in the list expand, as on a node.
        "LATER": "$(DEFINED_BELOW)/x",
        "ESCAPED": "$(HOME)",
        "EMPTY": "",
        "MINGO_MODEL_VERSION": "7",
        "UNSET_ANNOTATION": "",
        "APP": "binary-prediction",
        "NAMESPACE": "mingo",
        "ACCOUNT": "mingo-prediction",
        "DEFINED_BELOW": "late",
    }
    assert container_env(TEMPLATE) == {"ONLY_HERE": "x"}


def test_a_template_without_the_annotation_resolves_to_empty() -> None:
    unpinned = {**TEMPLATE, "metadata": {"annotations": {"other": "1"}}}
    assert container_env(unpinned, "service")["MINGO_MODEL_VERSION"] == ""


def test_unknown_field_paths_and_containers_are_refused() -> None:
    pod = {
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "env": [
                        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
                    ],
                }
            ]
        }
    }
    with pytest.raises(UnsupportedFieldError, match=r"status\.podIP"):
        container_env(pod)
    with pytest.raises(KeyError, match="missing"):
        container_env(pod, "missing")


def test_expand_keeps_unknown_references() -> None:
    assert expand("$(A)-$(B)-$$-$$(A)", {"A": "1"}) == "1-$(B)-$-$(A)"
