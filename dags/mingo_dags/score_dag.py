"""Builds the batch-scoring DAG of one model KIND: every customer's score as of a date."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from mingo_dags import commands
from mingo_dags.config import DagConfig, model_name
from mingo_dags.factory import BAD_DATA_EXIT_CODE, START_DATE, default_args, make_step
from mingo_dags.params import score_params
from mingo_dags.timeouts import check_run_timeout

SCORE_TASK = "score"


def score_dag_id(kind: str) -> str:
    return f"mingo_score_{kind}"


def doc_md(kind: str, config: DagConfig) -> str:
    score = config.models[kind].score  # type: ignore[index]
    output = commands.scores_output(config.scores_uri, kind, "<as_of>")
    return f"""
### Batch scores of `{model_name(kind)}`

Schedule: `{score.schedule or "manual triggers only"}` (override:
`MINGO_SCORE_SCHEDULE_{kind.upper()}`, or `models.{kind}.score.schedule` in
`dags/mingo_retrain.yaml`). Runner: **{config.runner}** (`MINGO_RUNNER`).

**score**: `mingo score {kind} --data <data_uri> --as-of <as_of> --out {output}`: every
customer of the data scored by the champion (or the version in the trigger form), with the
version in every row. `as_of` is the trigger form's, else the run's date (`ds`). Output
prefix: `scores_uri` in the YAML or `MINGO_SCORES_URI`.
"""


def build_score_dag(kind: str, config: DagConfig) -> DAG:
    score = config.models[kind].score  # type: ignore[index]
    with DAG(
        dag_id=score_dag_id(kind),
        description=f"Every customer's score by {model_name(kind)} as of a date, to Parquet",
        schedule=score.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(minutes=config.dagrun_timeout_minutes),
        default_args=default_args(config),
        params=score_params(kind),
        tags={"mingo", "scoring", kind, config.runner},
        doc_md=doc_md(kind, config),
    ) as dag:
        make_step(
            config,
            kind,
            SCORE_TASK,
            commands.score_command(kind, config.scores_uri),
            resources=score.resources,
            execution_timeout=timedelta(minutes=score.timeout_minutes),
            final_exit_codes=(BAD_DATA_EXIT_CODE,),
            component="scoring",
        )
    check_run_timeout(dag)
    return dag
