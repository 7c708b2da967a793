"""MinGo retraining DAGs: mingo_retrain_binary, mingo_retrain_multiclass, mingo_retrain_clustering.

One DAG per model in dags/mingo_retrain.yaml, all built by mingo_dags.factory. This file is
parsed by the scheduler again and again: it imports only Airflow, the standard library and
the light configuration; the steps import mingo and MLflow when they run.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Airflow puts a bundle's root on sys.path, which is this folder only when the bundle is the
# dags folder itself; from a repository-root bundle (e.g. git) the helpers need this.
_DAGS_DIR = str(Path(__file__).resolve().parent)
if _DAGS_DIR not in sys.path:
    sys.path.insert(0, _DAGS_DIR)

# Unused here, imported for the DAG processor: it pre-imports a DAG file's top-level airflow
# imports once in its long-lived parent (parsing_pre_import_modules), so these ~2 s imports
# are not paid again in every parse of this file: the Kubernetes provider (the pod steps) and
# the amazon provider's s3:// asset URI normalizer (boto3), which a DAG with `on_new_data`
# loads when it builds its purchases Asset.
import airflow.providers.amazon.aws.assets.s3  # noqa: E402
import airflow.providers.cncf.kubernetes.operators.pod  # noqa: E402, F401
from mingo_dags.config import load_dag_config  # noqa: E402
from mingo_dags.factory import build_retrain_dag, dag_id  # noqa: E402

_config = load_dag_config()
for _kind in _config.models:
    globals()[dag_id(_kind)] = build_retrain_dag(_kind, _config)
