"""Retraining of the binary model at full ClickBus scale (~1.74M orders) on the embedded stack.

Two measurements on the same file, in one run (noise between runs is large, ratios are not):
- compute: the plain mingo path, in this process: load -> validate -> datasets -> fit ->
  score + baseline (what any orchestrator has to pay);
- pipeline: `mingo train binary --data FILE` as a fresh process on a fresh MINGO_HOME (ZenML
  init, step artifacts, MLflow logging and registration, champion comparison included).
Pipeline minus compute is the ZenML/MLflow overhead. Results: benchmarks/results/retrain.md.

Both wall-clock and CPU seconds are recorded: on a shared machine the wall clock swings with
other load, while CPU seconds (this process's, or the pipeline process's via rusage) do not.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

FULL_SCALE_CUSTOMERS = 581_817
SEED = 2025
RESULTS = Path(__file__).resolve().parent / "results" / "retrain.md"
REPO_ROOT = Path(__file__).resolve().parent.parent


class StageClock:
    """Wall and CPU seconds of consecutive stages in this process."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        self._start = (self._wall, self._cpu)

    def lap(self, stage: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.wall[stage], self.cpu[stage] = wall - self._wall, cpu - self._cpu
        self._wall, self._cpu = wall, cpu

    def total(self) -> None:
        self.wall["total"] = time.perf_counter() - self._start[0]
        self.cpu["total"] = time.process_time() - self._start[1]


def time_compute(data_path: Path) -> tuple[StageClock, float]:
    from mingo.config import load_settings
    from mingo.models import api as models
    from mingo.retraining import stages

    clock = StageClock()
    raw = stages.load_purchases(str(data_path), load_settings())
    clock.lap("load")
    purchases, _dropped = stages.validate_purchases(raw)
    clock.lap("validate")
    config = models.ModelConfig(kind="binary")
    train, holdout = models.build_datasets(purchases, config)
    clock.lap("datasets")
    trained = models.fit(train, config)
    clock.lap("fit")
    metrics, _baseline = stages.evaluate(trained, train, holdout, config)
    clock.lap("evaluate")
    clock.total()
    return clock, metrics["accuracy"]


def time_pipeline(data_path: Path, home: Path) -> tuple[float, float, dict[str, object]]:
    """(wall seconds, CPU seconds of the `mingo train` process tree, decision)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "ZENML_"))}
    env["MINGO_HOME"] = str(home)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mingo"), "train", "binary", "--data", str(data_path)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (children.ru_utime - children_before.ru_utime) + (
        children.ru_stime - children_before.ru_stime
    )
    if result.returncode != 0:
        raise RuntimeError(f"mingo train failed ({result.returncode}):\n{result.stderr[-4000:]}")
    decision: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return elapsed, cpu, decision


def main() -> None:
    from mingo.data.generate import generate_purchases

    with tempfile.TemporaryDirectory(prefix="bench-retrain-") as scratch:
        root = Path(scratch)
        data_path = root / "purchases.parquet"
        mark = time.perf_counter()
        generate_purchases(customers=FULL_SCALE_CUSTOMERS, seed=SEED).to_parquet(data_path)
        generate_s = time.perf_counter() - mark
        compute, accuracy = time_compute(data_path)
        pipeline_wall, pipeline_cpu, decision = time_pipeline(data_path, root / "mingo-home")
    data = decision["data"]
    rows = data["rows"] if isinstance(data, dict) else "?"
    lines = [
        "# Retraining benchmark (binary, embedded stack)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"{FULL_SCALE_CUSTOMERS:,} synthetic customers ({rows:,} orders), seed {SEED}.",
        "",
        "| measurement | wall s | CPU s |",
        "|---|---|---|",
        *(
            f"| compute: {stage} | {compute.wall[stage]:.1f} | {compute.cpu[stage]:.1f} |"
            for stage in ("load", "validate", "datasets", "fit", "evaluate", "total")
        ),
        f"| pipeline: `mingo train binary` (fresh process and MINGO_HOME) "
        f"| {pipeline_wall:.1f} | {pipeline_cpu:.1f} |",
        f"| ZenML + MLflow overhead (pipeline - compute) "
        f"| {pipeline_wall - compute.wall['total']:.1f} "
        f"| {pipeline_cpu - compute.cpu['total']:.1f} |",
        "",
        f"Pipeline / compute ratio: wall **{pipeline_wall / compute.wall['total']:.2f}**, "
        f"CPU **{pipeline_cpu / compute.cpu['total']:.2f}**. "
        f"Candidate accuracy {accuracy:.4f}; promoted: {decision['promoted']}.",
        f"(Generating the data file took {generate_s:.1f} s, not counted.)",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
