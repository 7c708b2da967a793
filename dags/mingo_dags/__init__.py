"""Building blocks of the MinGo retraining DAGs (the DAG file is dags/mingo_retrain.py).

Light at import: Airflow, the standard library, pydantic and PyYAML only. Everything heavy
(mingo's registry code, MLflow, the Kubernetes provider) is imported inside the task or
the runner that needs it.
"""
