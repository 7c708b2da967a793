"""The ZenML runner: `mingo train --runner zenml` (the default) runs the stages as a pipeline.

Plugged into the core by name (`mingo.retraining.runner.RUNNERS`); this module imports ZenML
only inside `run`, after `prepare_zenml` has pointed it at MINGO_HOME or a ZenML server.
"""

from __future__ import annotations

from mingo import registered_model_name
from mingo.config import Settings
from mingo.retraining.decision import Decision
from mingo.retraining.runner import Progress, RetrainingPlan
from zenml_pipelines.environment import prepare_zenml

DECISION_STEP = "promote_or_reject"
DECISION_ARTIFACT = "decision"


class ZenMLRunner:
    """The retraining pipeline on ZenML's active stack; ZenML logs each step's progress."""

    def run(
        self, plan: RetrainingPlan, settings: Settings, progress: Progress | None = None
    ) -> Decision:
        prepare_zenml(settings)
        from zenml import Model

        from zenml_pipelines.pipelines import retraining_pipeline

        kind = plan.request.kind
        pipeline = retraining_pipeline.with_options(
            model=Model(name=registered_model_name(kind), description=f"MinGo {kind} model"),
            run_name=f"retrain-{kind}-{{date}}-{{time}}",
        )
        run = pipeline(plan=plan)
        if run is None:
            raise RuntimeError("the ZenML orchestrator returned no run to read the decision from")
        decision = run.steps[DECISION_STEP].outputs[DECISION_ARTIFACT][0].load()
        if not isinstance(decision, Decision):
            raise TypeError(f"unexpected decision artifact type {type(decision).__name__}")
        if progress is not None:
            progress("pipeline", f"ZenML run {run.name}")
        return decision
