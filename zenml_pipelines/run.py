"""Run the retraining pipeline for one KIND and return its decision (what `mingo train` calls).

The caller holds `mingo.retraining.retraining_lock` around this; ZenML must be prepared
(`zenml_pipelines.environment.prepare_zenml`) before this module is imported.
"""

from __future__ import annotations

from pathlib import Path

from mingo.retraining import Decision, RetrainingConfig, read_retraining_config

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def default_config_path(kind: str) -> Path:
    return CONFIG_DIR / f"{kind}.yaml"


def load_config(kind: str, path: Path | None) -> RetrainingConfig:
    """The YAML given, else the shipped one for KIND; its `kind` must match KIND."""
    config = read_retraining_config(path or default_config_path(kind))
    if config.kind != kind:
        raise ValueError(f"pipeline config {path} is for kind {config.kind!r}, not {kind!r}")
    return config


def run_retraining(
    config: RetrainingConfig, data_uri: str, dry_run: bool, force_promote: bool
) -> Decision:
    from zenml import Model

    from zenml_pipelines.pipelines import retraining_pipeline

    pipeline = retraining_pipeline.with_options(
        model=Model(name=f"mingo-{config.kind}", description=f"MinGo {config.kind} model"),
        run_name=f"retrain-{config.kind}-{{date}}-{{time}}",
    )
    run = pipeline(config=config, data_uri=data_uri, dry_run=dry_run, force_promote=force_promote)
    if run is None:
        raise RuntimeError("the ZenML orchestrator returned no run to read the decision from")
    decision = run.steps["promote_or_reject"].outputs["decision"][0].load()
    if not isinstance(decision, Decision):
        raise TypeError(f"unexpected decision artifact type {type(decision).__name__}")
    return decision
