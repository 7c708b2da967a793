"""What each model serves, at full ClickBus scale, against its naive baseline and public work.

Every metric is the gate's own (`mingo.models.score`): computed on what the prediction
service answers for the holdout customers. Writes benchmarks/results/served_metrics.md.
"""

from __future__ import annotations

from pathlib import Path

from threadpoolctl import threadpool_limits

from benchmarks.bench_features import SCALES, load_average, scaled_purchases
from mingo import MODEL_KINDS
from mingo.models import ModelConfig, baseline_metrics, build_datasets, fit, score

RESULTS = Path(__file__).parent / "results" / "served_metrics.md"
FULL_SCALE = "1.74M orders"

# Published on the real file (../shared/CLICKBUS_DATA.md): task, approach, numbers.
PUBLIC_REFERENCE: dict[str, str] = {
    "binary": "30-day repurchase, customer level, out of time (XGBoost): ROC-AUC 0.8375, "
    "PR-AUC 0.266, best F1 0.325",
    "multiclass": "next route, time split (history + popularity): Acc@1 0.238, Recall@5 0.475",
    "clustering": "RFM + KMeans, k=4: silhouette 0.506",
}


def main() -> None:
    purchases = scaled_purchases(SCALES[FULL_SCALE])
    sections = [
        "# Served metrics at full scale",
        "",
        f"{len(purchases):,} generated orders, {purchases['fk_contact'].nunique():,} customers "
        "(`mingo data generate` shape and statistics). Each metric is computed on what the "
        "service returns for the holdout customers, the model's and the naive baseline's alike.",
        "",
    ]
    with threadpool_limits(limits=1):
        for kind in MODEL_KINDS:
            config = ModelConfig(kind=kind)
            train, holdout = build_datasets(purchases, config)
            metrics = score(fit(train, config), holdout)
            baseline = baseline_metrics(train, holdout, config)
            rows = [
                f"## {kind}",
                "",
                f"Holdout: {len(holdout.features):,} customers as of {holdout.cutoff}.",
                "",
                "| metric | model | baseline |",
                "|---|---:|---:|",
                *(f"| {name} | {metrics[name]:.3f} | {baseline[name]:.3f} |" for name in metrics),
                "",
                f"Public reference on the real file: {PUBLIC_REFERENCE[kind]}.",
                "",
            ]
            print("\n".join(rows), flush=True)
            sections += rows
    sections.append(f"Load average at the end: {load_average()}.")
    RESULTS.write_text("\n".join(sections) + "\n")


if __name__ == "__main__":
    main()
