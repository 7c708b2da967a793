"""The optional ValidatingAdmissionPolicy that narrows the deployer's `patch` to the pod
template's mingo.io/model-version annotation: schema-valid for Kubernetes 1.33, and its CEL
evaluated with cel-python (a real CEL implementation, in the dev group of the lock; no API
server can run here to evaluate it)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tests.k8s.helm import NAMESPACE, render_chart

KUBERNETES_VERSION = "1.33"
EVALUATOR = Path(__file__).with_name("cel_policy_eval.py")
DEPLOYER = f"system:serviceaccount:{NAMESPACE}:mingo-deployer"
AIRFLOW_WORKER = "system:serviceaccount:airflow:airflow-worker"
VERSION = "mingo.io/model-version"
LEGACY_VERSION = "mingo.io/champion-version"


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render_chart([], set_values=["deployerAdmissionPolicy.enabled=true"])


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def test_the_policy_is_off_by_default() -> None:
    kinds = {obj["kind"] for obj in render_chart([])}
    assert not kinds & {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}


def test_the_policy_and_binding_are_valid_for_kubernetes_1_33(
    objects: list[dict[str, Any]],
) -> None:
    (policy,) = of_kind(objects, "ValidatingAdmissionPolicy")
    (binding,) = of_kind(objects, "ValidatingAdmissionPolicyBinding")
    for obj in (policy, binding):
        assert obj["apiVersion"] == "admissionregistration.k8s.io/v1"
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert binding["spec"]["matchResources"]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": NAMESPACE
    }
    (rule,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rule["resources"] == ["deployments"] and rule["operations"] == ["UPDATE"]
    assert sorted(rule["resourceNames"]) == sorted(
        d["metadata"]["name"] for d in of_kind(objects, "Deployment")
    )
    assert policy["spec"]["failurePolicy"] == "Fail"


def api_server_copy(deployment: dict[str, Any]) -> dict[str, Any]:
    """The Deployment as the API server holds it: defaulted fields present."""
    stored = copy.deepcopy(deployment)
    stored["spec"].setdefault("replicas", 1)
    stored["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "4"}
    stored["spec"]["template"]["metadata"]["annotations"][LEGACY_VERSION] = "2"
    return stored


def changed(deployment: dict[str, Any], change: Any) -> dict[str, Any]:
    updated = copy.deepcopy(deployment)
    change(updated)
    return updated


def pin(version: str) -> Any:
    def apply(deployment: dict[str, Any]) -> None:
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        annotations[VERSION] = version
        annotations.pop(LEGACY_VERSION, None)

    return apply


def test_the_cel_allows_the_roll_and_denies_everything_else(
    objects: list[dict[str, Any]],
) -> None:
    (policy,) = of_kind(objects, "ValidatingAdmissionPolicy")
    old = api_server_copy(of_kind(objects, "Deployment")[0])
    rolled = changed(old, pin("7"))

    def container(d: dict[str, Any]) -> dict[str, Any]:
        return d["spec"]["template"]["spec"]["containers"][0]

    cases = {
        "roll": (DEPLOYER, rolled, old),
        "roll again": (DEPLOYER, changed(rolled, pin("8")), rolled),
        "rollback by the airflow worker": (AIRFLOW_WORKER, changed(rolled, pin("6")), rolled),
        "image": (DEPLOYER, changed(rolled, lambda d: container(d).update(image="evil")), old),
        "command": (DEPLOYER, changed(old, lambda d: container(d).update(command=["sh"])), old),
        "service account": (
            DEPLOYER,
            changed(old, lambda d: d["spec"]["template"]["spec"].update(serviceAccountName="x")),
            old,
        ),
        "another template annotation": (
            DEPLOYER,
            changed(
                rolled, lambda d: d["spec"]["template"]["metadata"]["annotations"].update(x="1")
            ),
            old,
        ),
        "a template label": (
            DEPLOYER,
            changed(old, lambda d: d["spec"]["template"]["metadata"]["labels"].update(x="1")),
            old,
        ),
        "replicas": (DEPLOYER, changed(old, lambda d: d["spec"].update(replicas=9)), old),
        "paused": (DEPLOYER, changed(old, lambda d: d["spec"].update(paused=True)), old),
        "deployment annotation": (
            DEPLOYER,
            changed(old, lambda d: d["metadata"]["annotations"].update(x="1")),
            old,
        ),
        "image by someone else": (
            "kubernetes-admin",
            changed(old, lambda d: container(d).update(image="other")),
            old,
        ),
    }
    given = {
        "policy": policy,
        "cases": [
            {
                "name": name,
                "request": {"userInfo": {"username": user}},
                "object": new,
                "oldObject": prior,
            }
            for name, (user, new, prior) in cases.items()
        ],
    }
    result = subprocess.run(
        [sys.executable, str(EVALUATOR)],
        input=json.dumps(given),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    decisions = json.loads(result.stdout)
    assert decisions.pop("roll") == "allowed"
    assert decisions.pop("roll again") == "allowed"
    assert decisions.pop("rollback by the airflow worker") == "allowed"
    assert decisions.pop("image by someone else") == "not-matched"
    denied = {
        name: decision for name, decision in decisions.items() if decision.startswith("denied")
    }
    assert denied == decisions, decisions


def test_helm_lint_passes_strictly_with_the_policy_on() -> None:
    from tests.k8s.helm import CHART_DIR, run_helm

    output = run_helm(
        "lint", "--strict", str(CHART_DIR), "--namespace", NAMESPACE,
        "--set", "deployerAdmissionPolicy.enabled=true",
    )  # fmt: skip
    assert "0 chart(s) failed" in output
