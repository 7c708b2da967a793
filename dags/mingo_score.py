"""MinGo batch-scoring DAGs: mingo_score_binary, mingo_score_multiclass, mingo_score_clustering.

One DAG per model in dags/mingo_retrain.yaml (its `score:` block), built by
mingo_dags.score_dag: every customer scored by the champion as of a date, written as Parquet
under `scores_uri`. Parsed again and again by the scheduler: it imports only Airflow, the
standard library and the light configuration.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Airflow puts a bundle's root on sys.path, which is this folder only when the bundle is the
# dags folder itself; from a repository-root bundle (e.g. git) the helpers need this.
_DAGS_DIR = str(Path(__file__).resolve().parent)
if _DAGS_DIR not in sys.path:
    sys.path.insert(0, _DAGS_DIR)

# Unused here, imported for the DAG processor, which pre-imports a DAG file's top-level
# airflow imports once in its long-lived parent: the Kubernetes provider (the pod step).
import airflow.providers.cncf.kubernetes.operators.pod  # noqa: E402, F401
from mingo_dags.config import load_dag_config  # noqa: E402
from mingo_dags.score_dag import build_score_dag, score_dag_id  # noqa: E402

_config = load_dag_config()
for _kind in _config.models:
    globals()[score_dag_id(_kind)] = build_score_dag(_kind, _config)
