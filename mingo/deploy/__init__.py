"""Rolling the Kubernetes prediction services to the registry's champion.

`kubernetes` patches a `<kind>-prediction` Deployment and waits for its rollout, `smoke`
checks a running service answers with the champion, and `redeploy` chains them with the
registry: roll to the champion, smoke-test, and on failure roll the champion alias back to
`previous` and roll again. The Airflow DAGs and `mingo redeploy` call this package; it
imports no airflow, zenml or bentoml.
"""
