"""The chart's RBAC grants Airflow exactly what launching pods and rolling the services needs."""

from __future__ import annotations

from typing import Any

from tests.k8s.conftest import RenderedChart
from tests.k8s.helm import NAMESPACE, render_chart

PREDICTION_DEPLOYMENTS = ["binary-prediction", "multiclass-prediction", "clustering-prediction"]
AIRFLOW_SUBJECT = ("ServiceAccount", "airflow-worker", "airflow")
DEPLOYER_SUBJECT = ("ServiceAccount", "mingo-deployer", NAMESPACE)
TRAINER = "mingo-trainer"

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
    "mingo-prediction-redeployer": {AIRFLOW_SUBJECT, DEPLOYER_SUBJECT},
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


def test_bindings_reach_only_the_airflow_and_deployer_service_accounts(
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


def service_accounts(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}


def bound_subject_names(objects: list[dict[str, Any]]) -> set[str]:
    return {
        subject["name"]
        for obj in objects
        if obj["kind"] in ("RoleBinding", "ClusterRoleBinding")
        for subject in obj["subjects"]
    }


def test_the_trainer_has_no_kubernetes_api_rights_and_no_token(rendered: RenderedChart) -> None:
    accounts = service_accounts(rendered.objects)
    assert set(accounts) == {"mingo-prediction", TRAINER, "mingo-deployer"}
    assert accounts[TRAINER]["automountServiceAccountToken"] is False
    assert accounts["mingo-prediction"]["automountServiceAccountToken"] is False
    assert TRAINER not in bound_subject_names(rendered.objects)
    assert "mingo-prediction" not in bound_subject_names(rendered.objects)


def test_the_deployer_may_only_get_and_patch_the_prediction_deployments(
    rendered: RenderedChart,
) -> None:
    roles = {role["metadata"]["name"]: role for role in rendered.of_kind("Role")}
    granted = [
        rule
        for binding in rendered.of_kind("RoleBinding")
        if ("ServiceAccount", "mingo-deployer", NAMESPACE)
        in {(s["kind"], s["name"], s["namespace"]) for s in binding["subjects"]}
        for rule in roles[binding["roleRef"]["name"]]["rules"]
    ]
    assert granted == [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "resourceNames": PREDICTION_DEPLOYMENTS,
            "verbs": ["get", "patch"],
        }
    ]
    # It needs its token to call the API.
    assert service_accounts(rendered.objects)["mingo-deployer"].get(
        "automountServiceAccountToken", True
    )


def test_service_accounts_pipeline_still_names_the_trainer() -> None:
    # Deprecated alias: an old values file keeps rendering; the account loses the deploy rights.
    objects = render_chart([], set_values=["serviceAccounts.pipeline=mingo-pipeline"])
    accounts = service_accounts(objects)
    assert set(accounts) == {"mingo-prediction", "mingo-pipeline", "mingo-deployer"}
    assert accounts["mingo-pipeline"]["automountServiceAccountToken"] is False
    assert "mingo-pipeline" not in bound_subject_names(objects)
