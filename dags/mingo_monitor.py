"""MinGo monitoring DAGs: mingo_monitor_binary, mingo_monitor_multiclass, mingo_monitor_clustering.

One DAG per model in dags/mingo_retrain.yaml (its `monitor:` block), built by
mingo_dags.monitor_dag: live outcomes and drift of the served version, and a triggered run of
mingo_retrain_<kind> when they say so. Parsed again and again by the scheduler: it imports
only Airflow, the standard library and the light configuration.
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
# airflow imports once in its long-lived parent: the Kubernetes provider (the pod step) and
# the trigger operator.
import airflow.providers.cncf.kubernetes.operators.pod  # noqa: E402
import airflow.providers.standard.operators.trigger_dagrun  # noqa: E402, F401
from mingo_dags.config import load_dag_config  # noqa: E402
from mingo_dags.monitor_dag import build_monitor_dag, monitor_dag_id  # noqa: E402

_config = load_dag_config()
for _kind in _config.models:
    globals()[monitor_dag_id(_kind)] = build_monitor_dag(_kind, _config)
