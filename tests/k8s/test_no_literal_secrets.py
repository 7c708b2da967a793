"""No credential is written in helm-values/ or charts/: they all come from existing Secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.k8s.conftest import RenderedChart
from tests.k8s.helm import REPO_ROOT
from tests.k8s.secret_scan import Finding, scan_file, scan_node, scan_tree

SCANNED_DIRS = [REPO_ROOT / "helm-values", REPO_ROOT / "charts"]


@pytest.mark.parametrize("root", SCANNED_DIRS, ids=lambda p: p.name)
def test_no_literal_credentials_in_values_files(root: Path) -> None:
    assert list(root.rglob("*.yaml")), f"nothing to scan under {root}"
    findings: list[Finding] = scan_tree(root)
    assert findings == []


def test_rendered_chart_carries_no_literal_credentials(rendered: RenderedChart) -> None:
    findings = [hit for obj in rendered.objects for hit in scan_node(obj, obj["kind"])]
    assert findings == []
    assert not [obj for obj in rendered.objects if obj["kind"] == "Secret"]


@pytest.mark.parametrize(
    "planted, where",
    [
        ("auth:\n  adminPassword: hunter2\n", "doc0.auth.adminPassword"),
        ("s3:\n  awsSecretAccessKey: abc123\n", "doc0.s3.awsSecretAccessKey"),
        ("env:\n  - name: AWS_SECRET_ACCESS_KEY\n    value: abc\n", "doc0.env[0]"),
        ("zenml:\n  database:\n    url: x\n    password: pw\n", "doc0.zenml.database.password"),
        ("fernetKey: c2VjcmV0\n", "doc0.fernetKey"),
        ("extra:\n  note: AKIAABCDEFGHIJKLMNOP\n", "doc0.extra.note"),
        ("token: abc\n", "doc0.token"),
        # Not the Airflow chart's reference shape (no secretName): a literal secret key.
        ("minio:\n  secretKey: abc123\n", "doc0.minio.secretKey"),
    ],
)
def test_the_scanner_catches_planted_credentials(planted: str, where: str, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(planted)
    assert [finding.where for finding in scan_file(values)] == [where]


@pytest.mark.parametrize(
    "reference",
    [
        "existingSecret: minio-root\n",
        "auth:\n  existingAdminSecret:\n    name: mlflow-admin\n    passwordKey: password\n",
        "fernetKeySecretName: airflow-fernet-key\n",
        "secretEnv:\n  MINGO_API_KEY: {secret: mingo-api, key: api-key}\n",
        "env:\n  - name: AWS_SECRET_ACCESS_KEY\n"
        "    valueFrom:\n      secretKeyRef: {name: s, key: k}\n",
        "auth:\n  adminPassword: ''\n",
        "secret:\n  - {envName: AIRFLOW_CONN_X, secretName: airflow-x, secretKey: connection}\n",
    ],
)
def test_the_scanner_accepts_secret_references(reference: str, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(reference)
    assert scan_file(values) == []
