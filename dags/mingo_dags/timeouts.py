"""The longest a retraining run can take by its tasks' own limits, read from the built DAG.

A run stopped by `dagrun_timeout` stops wherever it is, e.g. after the promotion and before
the redeploy or the rollback: the run timeout must cover the worst case of the task timeouts.
Per task, the worst case is every attempt running into its `execution_timeout`, plus the
longest retry delays Airflow can choose between attempts, plus, for a pod step, the pod's
`startup_timeout_seconds` per attempt (counted on top of the execution timeout: conservative,
it holds however the provider accounts for the wait). The run's worst case is the longest
path of those through the DAG (both branches of `decide`, the rollback path included).

Only the standard library: parsed with the DAG file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mingo_dags.config import DagConfigError


def retry_delay_bound(task: Any, try_number: int) -> timedelta:
    """The longest delay Airflow waits after failed try `try_number` (1-based) of `task`.

    Airflow 3's TaskInstance.next_retry_datetime: with a backoff multiplier m other than 1,
    the delay is min_backoff + hash % min_backoff, min_backoff = ceil(retry_delay * m**(try
    - 1)) seconds, at most 2 * min_backoff - 1, then capped by max_retry_delay; with m = 1 (or
    0) it is retry_delay itself.
    """
    delay: timedelta = task.retry_delay
    multiplier = float(task.retry_exponential_backoff or 0) or 1.0
    if multiplier == 1.0 or multiplier < 0:
        return delay
    min_backoff = max(1, math.ceil(delay.total_seconds() * multiplier ** (try_number - 1)))
    bound = timedelta(seconds=2 * min_backoff - 1)
    if task.max_retry_delay:
        bound = min(task.max_retry_delay, bound)
    return bound


@dataclass(frozen=True)
class TaskBound:
    task_id: str
    attempts: int
    worst_case: timedelta


def task_worst_case(task: Any) -> TaskBound:
    """Every attempt timing out, the longest retry delays, and pod start-up per attempt."""
    if task.execution_timeout is None:
        raise DagConfigError(
            f"task {task.task_id} of {task.dag_id} has no execution_timeout: the run's worst "
            "case would be unbounded"
        )
    attempts = int(task.retries or 0) + 1
    per_attempt = task.execution_timeout
    startup = getattr(task, "startup_timeout_seconds", None)
    if startup:
        per_attempt += timedelta(seconds=startup)
    delays = sum((retry_delay_bound(task, n) for n in range(1, attempts)), timedelta())
    return TaskBound(task.task_id, attempts, per_attempt * attempts + delays)


@dataclass(frozen=True)
class RunBound:
    """The longest path of task worst cases through a DAG."""

    dag_id: str
    path: tuple[TaskBound, ...]

    @property
    def worst_case(self) -> timedelta:
        return sum((step.worst_case for step in self.path), timedelta())

    def describe(self) -> str:
        return " + ".join(
            f"{step.task_id} {step.worst_case.total_seconds() / 60:.1f} min" for step in self.path
        )


def run_worst_case(dag: Any) -> RunBound:
    """The critical path of `dag` by its tasks' worst cases."""
    bounds = {task.task_id: task_worst_case(task) for task in dag.tasks}
    longest: dict[str, tuple[TaskBound, ...]] = {}

    def path_from(task_id: str) -> tuple[TaskBound, ...]:
        if task_id not in longest:
            below = [path_from(child) for child in dag.task_dict[task_id].downstream_task_ids]
            tail = max(below, key=lambda p: sum((s.worst_case for s in p), timedelta()), default=())
            longest[task_id] = (bounds[task_id], *tail)
        return longest[task_id]

    roots = [task.task_id for task in dag.tasks if not task.upstream_task_ids]
    paths = [path_from(root) for root in roots]
    best = max(paths, key=lambda p: sum((s.worst_case for s in p), timedelta()), default=())
    return RunBound(dag.dag_id, best)


def check_run_timeout(dag: Any) -> RunBound:
    """DagConfigError unless the DAG's dagrun_timeout covers its worst case; the bound."""
    bound = run_worst_case(dag)
    timeout: timedelta | None = dag.dagrun_timeout
    if timeout is not None and timeout < bound.worst_case:
        needed = math.ceil(bound.worst_case.total_seconds() / 60)
        raise DagConfigError(
            f"dagrun_timeout_minutes is {timeout.total_seconds() / 60:g}, shorter than the "
            f"worst case of {dag.dag_id}'s task timeouts, {needed} min ({bound.describe()}): "
            f"a run could be stopped between the promotion and the redeploy or rollback. "
            f"Raise dagrun_timeout_minutes to at least {needed}, or lower the task timeouts "
            "or retries"
        )
    return bound
