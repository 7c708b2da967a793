"""The chart's RBAC grants Airflow exactly what launching pods and rolling the services needs."""

from __future__ import annotations

from typing import Any

from tests.k8s.conftest import RenderedChart
from tests.k8s.helm import NAMESPACE, render_chart

PREDICTION_DEPLOYMENTS = ["binary-prediction", "multiclass-prediction", "clustering-prediction"]
AIRFLOW_SUBJECT = ("ServiceAccount", "airflow-worker", "airflow")
PIPELINE_SUBJECT = ("ServiceAccount", "mingo-pipeline", NAMESPACE)

EXPECTED_ROLES: dict[str, list[dict[str, Any]]] = {
    "mingo-pod-launcher": [
        {
            "apiGroups": [""],
            "resources": ["pods"],
            "verbs": ["create", "get", "list", "watch", "patch", "delete"],
        },
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
    ],
    "mingo-prediction-redeployer": [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "resourceNames": PREDICTION_DEPLOYMENTS,
            "verbs": ["get", "patch"],
        }
    ],
}
EXPECTED_SUBJECTS = {
    "mingo-pod-launcher": {AIRFLOW_SUBJECT},
    "mingo-prediction-redeployer": {AIRFLOW_SUBJECT, PIPELINE_SUBJECT},
}


def rbac_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["apiVersion"].startswith("rbac.authorization.k8s.io/")]


def test_roles_grant_exactly_the_expected_rules(rendered: RenderedChart) -> None:
    roles = {role["metadata"]["name"]: role["rules"] for role in rendered.of_kind("Role")}
    assert roles == EXPECTED_ROLES


def test_no_cluster_wide_grants(rendered: RenderedChart) -> None:
    kinds = {obj["kind"] for obj in rbac_objects(rendered.objects)}
    assert kinds == {"Role", "RoleBinding"}


def test_no_wildcards_anywhere_in_rbac(rendered: RenderedChart) -> None:
    for role in rendered.of_kind("Role"):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert "*" not in rule.get(field, []), (role["metadata"]["name"], field)


def test_deployment_rights_are_limited_to_the_three_prediction_deployments(
    rendered: RenderedChart,
) -> None:
    for role in rendered.of_kind("Role"):
        for rule in role["rules"]:
            if "deployments" in rule["resources"]:
                assert rule["resourceNames"] == PREDICTION_DEPLOYMENTS
                assert set(rule["verbs"]) == {"get", "patch"}


def test_bindings_reach_only_the_airflow_and_pipeline_service_accounts(
    rendered: RenderedChart,
) -> None:
    bindings = rendered.of_kind("RoleBinding")
    subjects = {
        binding["roleRef"]["name"]: {
            (s["kind"], s["name"], s["namespace"]) for s in binding["subjects"]
        }
        for binding in bindings
    }
    assert subjects == EXPECTED_SUBJECTS
    for binding in bindings:
        assert binding["roleRef"]["kind"] == "Role"


def test_pod_exec_is_granted_only_when_asked_for() -> None:
    objects = render_chart([], set_values=["airflow.allowPodExec=true"])
    (launcher,) = [
        obj
        for obj in objects
        if obj["kind"] == "Role" and obj["metadata"]["name"] == "mingo-pod-launcher"
    ]
    assert launcher["rules"][-1] == {
        "apiGroups": [""],
        "resources": ["pods/exec"],
        "verbs": ["create", "get"],
    }
