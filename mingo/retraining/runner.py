"""Who runs the stages of a retraining: the runner interface and the plain in-process runner.

A runner takes a `RetrainingPlan` (the request, the config it resolved to, the data URI) and
returns the `Decision`. The core ships `InProcessRunner` (every stage in this process, no
orchestrator); `zenml_pipelines.runner.ZenMLRunner` plugs ZenML in (lineage, artifacts, a
ZenML Model version per run). `load_runner` finds a runner by name or by `module:attribute`,
importing it only then, so the core never imports an orchestrator.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from mingo.config import Settings
from mingo.models import api as models
from mingo.retraining import stages
from mingo.retraining.config import RetrainingConfig, apply_request, load_retraining_config
from mingo.retraining.decision import DataIdentity, Decision
from mingo.retraining.request import RetrainRequest

# Runners by name; any other "module:attribute" is imported as given (a plugin, a test runner).
RUNNERS: dict[str, str] = {
    "zenml": "zenml_pipelines.runner:ZenMLRunner",
    "in-process": "mingo.retraining.runner:InProcessRunner",
}
DEFAULT_RUNNER = "zenml"


class RetrainingPlan(BaseModel):
    """A request resolved against its pipeline config: everything a runner needs."""

    model_config = ConfigDict(frozen=True)

    request: RetrainRequest
    config: RetrainingConfig
    data_uri: str


class NoDataError(ValueError):
    """Neither the request, the pipeline config nor MINGO_DATA_URI names the data."""


def plan_retraining(request: RetrainRequest, settings: Settings) -> RetrainingPlan:
    """Resolve the request: its pipeline config with the request's choices, and the data URI."""
    config = apply_request(load_retraining_config(request.kind, request.config_path), request)
    data_uri = config.data_uri or settings.data_uri
    if not data_uri:
        raise NoDataError("no data: pass --data URI, set data_uri in the config or MINGO_DATA_URI")
    return RetrainingPlan(request=request, config=config, data_uri=data_uri)


# Called as each stage finishes: (stage, what it produced), e.g. ("register", "version 4").
Progress = Callable[[str, str], None]


class RetrainingRunner(Protocol):
    def run(
        self, plan: RetrainingPlan, settings: Settings, progress: Progress | None = None
    ) -> Decision: ...


class InProcessRunner:
    """Every stage in this process, in order: the reference sequence of a retraining."""

    def run(
        self, plan: RetrainingPlan, settings: Settings, progress: Progress | None = None
    ) -> Decision:
        done = progress or _silent
        raw = stages.load_purchases(plan.data_uri, settings)
        done("load", f"{len(raw):,} rows from {plan.data_uri}")
        purchases, summary = stages.validate_purchases(raw)
        done("validate", f"{summary['dropped_rows']:,} rows dropped")
        training = plan.config.model_config_for_training()
        train, holdout = models.build_datasets(purchases, training)
        identity = stages.identify_data(plan.data_uri, purchases, cutoff=holdout.cutoff)
        done("datasets", f"{len(train.features):,} training rows, holdout as of {holdout.cutoff}")
        trained = models.fit(train, training)
        done("train", trained.kind)
        return judge_candidate(trained, train, holdout, identity, plan, settings, done)


def judge_candidate(
    trained: models.TrainedModel,
    train: models.Dataset,
    holdout: models.Dataset,
    identity: DataIdentity,
    plan: RetrainingPlan,
    settings: Settings,
    progress: Progress | None = None,
) -> Decision:
    """The second half of a retraining, for a trained candidate: evaluate, register, compare
    with the champion on the same holdout, conclude."""
    done = progress or _silent
    training = plan.config.model_config_for_training()
    metrics, baseline = stages.evaluate(trained, train, holdout, training)
    metric = plan.config.promotion.metric
    done("evaluate", f"{metric} {metrics.get(metric)}")
    candidate = stages.register(
        trained,
        holdout,
        training,
        metrics,
        baseline,
        identity,
        dry_run=plan.request.dry_run,
        settings=settings,
    )
    done("register", f"version {candidate.version}")
    comparison = stages.compare(
        candidate,
        holdout,
        plan.config.promotion,
        force=plan.request.force_promote,
        settings=settings,
    )
    done("compare", comparison.champion_status)
    decision = stages.conclude(candidate, comparison, identity, plan.request, settings)
    done("conclude", "promoted" if decision.promoted else "not promoted")
    return decision


def _silent(stage: str, detail: str) -> None:
    pass


def load_runner(name: str) -> RetrainingRunner:
    """The runner `name` (see RUNNERS) or `module:attribute`, instantiated."""
    target = RUNNERS.get(name, name)
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(
            f"unknown runner {name!r}: use one of {', '.join(RUNNERS)} or module:attribute"
        )
    runner: RetrainingRunner = getattr(importlib.import_module(module_name), attribute)()
    return runner
