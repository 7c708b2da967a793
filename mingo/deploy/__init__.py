"""Rolling the Kubernetes prediction services to a model version, checking, undoing.

`kubernetes` patches a `<kind>-prediction` Deployment and waits for its rollout, `smoke`
checks a running service answers with an expected version, `local` reloads a local `mingo
serve`, `steps` holds the three steps the DAG runs as tasks (roll to a version, smoke-test
that version, undo that version), and `redeploy` chains them for `mingo redeploy`. The
Airflow DAGs and the `mingo deploy` commands call this package; it imports no airflow,
zenml or bentoml.
"""
