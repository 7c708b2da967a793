"""Retraining of the binary model at full ClickBus scale (~1.74M orders) on the embedded stack.

Two measurements on the same file, in one run (noise between runs is large, ratios are not):
- compute: the plain mingo path, in this process: load -> validate -> datasets -> fit ->
  score + baseline (what any orchestrator has to pay);
- pipeline: `mingo train binary --data FILE` as a fresh process on a fresh MINGO_HOME (ZenML
  init, step artifacts, MLflow logging and registration, champion comparison included).
Pipeline minus compute is the ZenML/MLflow overhead. Results: benchmarks/results/retrain.md.
"""

from __future__ import annotations

import json
import os
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


def time_compute(data_path: Path) -> dict[str, float]:
    from mingo import retraining
    from mingo.models import api as models

    timings: dict[str, float] = {}
    started = time.perf_counter()
    raw = retraining.load_purchases(str(data_path))
    timings["load"] = time.perf_counter() - started
    mark = time.perf_counter()
    purchases, _dropped = retraining.validate_purchases(raw)
    timings["validate"] = time.perf_counter() - mark
    config = models.ModelConfig(kind="binary")
    mark = time.perf_counter()
    train, holdout = models.build_datasets(purchases, config)
    timings["datasets"] = time.perf_counter() - mark
    mark = time.perf_counter()
    trained = models.fit(train, config)
    timings["fit"] = time.perf_counter() - mark
    mark = time.perf_counter()
    metrics, _baseline = retraining.evaluate(trained, train, holdout, config)
    timings["evaluate"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    timings["accuracy"] = metrics["accuracy"]
    return timings


def time_pipeline(data_path: Path, home: Path) -> tuple[float, dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "ZENML_"))}
    env["MINGO_HOME"] = str(home)
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
    if result.returncode != 0:
        raise RuntimeError(f"mingo train failed ({result.returncode}):\n{result.stderr[-4000:]}")
    decision: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return elapsed, decision


def main() -> None:
    from mingo.data.generate import generate_purchases

    with tempfile.TemporaryDirectory(prefix="bench-retrain-") as scratch:
        root = Path(scratch)
        data_path = root / "purchases.parquet"
        mark = time.perf_counter()
        generate_purchases(customers=FULL_SCALE_CUSTOMERS, seed=SEED).to_parquet(data_path)
        generate_s = time.perf_counter() - mark
        compute = time_compute(data_path)
        pipeline_s, decision = time_pipeline(data_path, root / "mingo-home")
    rows = decision["data"]["rows"] if isinstance(decision["data"], dict) else "?"
    overhead = pipeline_s - compute["total"]
    lines = [
        "# Retraining benchmark (binary, embedded stack)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"{FULL_SCALE_CUSTOMERS:,} synthetic customers ({rows:,} orders), seed {SEED}.",
        "",
        "| measurement | seconds |",
        "|---|---|",
        *(
            f"| compute: {stage} | {compute[stage]:.1f} |"
            for stage in ("load", "validate", "datasets", "fit", "evaluate", "total")
        ),
        f"| pipeline: `mingo train binary` (fresh process and MINGO_HOME) | {pipeline_s:.1f} |",
        f"| ZenML + MLflow overhead (pipeline - compute) | {overhead:.1f} |",
        "",
        f"Pipeline / compute ratio: **{pipeline_s / compute['total']:.2f}**. "
        f"Candidate accuracy {compute['accuracy']:.4f}; promoted: {decision['promoted']}.",
        f"(Generating the data file took {generate_s:.1f} s, not counted.)",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
