"""Pod contract tests (`make pod-tests`): every pod the retraining DAGs would create, run with
podman from the images `make images` built, against the session's real PostgreSQL, S3 and
MLflow servers.

Airflow reads its configuration when first imported: tests.dags.conftest sets a throwaway
AIRFLOW_HOME at import, before any module here imports Airflow.
"""

from __future__ import annotations

import tests.dags.conftest  # noqa: F401  (the throwaway AIRFLOW_HOME, set before Airflow loads)
