"""Evaluation figures per model kind (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    RocCurveDisplay,
)

from mingo.features.routes import SIGNALS, candidate_slots, route_feature_columns
from mingo.models import binary, clustering, multiclass
from mingo.models.base import Dataset, TrainedModel


def figures(model: TrainedModel, holdout: Dataset) -> dict[str, Figure]:
    """Named figures of `model` on `holdout` (names are file stems, e.g. for MLflow)."""
    if model.kind == "binary":
        return _binary(model, holdout)
    if model.kind == "multiclass":
        return _multiclass(model, holdout)
    return _clustering(model, holdout)


def _binary(model: TrainedModel, holdout: Dataset) -> dict[str, Figure]:
    if holdout.labels is None:
        raise ValueError("binary figures need holdout labels")
    labels = holdout.labels.to_numpy()
    proba = binary.probabilities(model, holdout.features)
    predicted = (proba >= model.metadata["threshold"]).astype(int)
    out: dict[str, Figure] = {}

    fig, ax = plt.subplots(figsize=(4.5, 4))
    ConfusionMatrixDisplay.from_predictions(labels, predicted, ax=ax, colorbar=False)
    ax.set_title(f"Confusion matrix (threshold {model.metadata['threshold']:.3f})")
    out["confusion_matrix"] = fig

    fig, ax = plt.subplots(figsize=(4.5, 4))
    RocCurveDisplay.from_predictions(labels, proba, ax=ax, name="model")
    ax.set_title("ROC curve")
    out["roc_curve"] = fig

    fig, ax = plt.subplots(figsize=(4.5, 4))
    PrecisionRecallDisplay.from_predictions(labels, proba, ax=ax, name="model")
    ax.set_title("Precision-recall curve")
    out["pr_curve"] = fig

    fig, ax = plt.subplots(figsize=(4.5, 4))
    observed, expected = calibration_curve(labels, proba, n_bins=10, strategy="quantile")
    ax.plot(expected, observed, marker="o", label="model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_title("Calibration")
    ax.legend()
    out["calibration"] = fig
    return out


ROUTE_KINDS: tuple[str, ...] = (
    "most frequent",
    "other own route",
    "way back of last",
    "way back of a route",
    "popular",
    "not a candidate",
)


def _route_kinds(features: pd.DataFrame, slots: np.ndarray, popular_count: int) -> np.ndarray:
    """What each customer's route in slot `slots[i]` is to them (index into ROUTE_KINDS)."""
    signals = features[route_feature_columns(popular_count)].to_numpy(dtype=np.float64)
    cube = signals.reshape(len(features), candidate_slots(popular_count), len(SIGNALS))
    picked = cube[np.arange(len(features)), np.maximum(slots, 0)]

    def s(name: str) -> np.ndarray:
        return picked[:, SIGNALS.index(name)]

    kind = np.select(
        [s("is_top") > 0, s("share") > 0, s("is_last_reversed") > 0, s("reverse_share") > 0],
        [0, 1, 2, 3],
        default=4,
    )
    return np.where(slots >= 0, kind, len(ROUTE_KINDS) - 1)


def _multiclass(model: TrainedModel, holdout: Dataset) -> dict[str, Figure]:
    if holdout.labels is None:
        raise ValueError("multiclass figures need holdout labels")
    features = multiclass.inputs_for(model, holdout)
    served = multiclass.serve(features, multiclass.model_scores(model, features))
    labels = holdout.labels.reindex(features.index)
    popular_count = len(multiclass.popular_routes(model))
    top = pd.Series(served.routes[:, 0], index=features.index)
    truth_kind, predicted_kind = (
        _route_kinds(
            features, multiclass.target_slots(features, keys, popular_count), popular_count
        )
        for keys in (labels, top)
    )
    kinds = list(range(len(ROUTE_KINDS)))
    out: dict[str, Figure] = {}

    fig, ax = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay.from_predictions(
        truth_kind,
        predicted_kind,
        labels=kinds,
        display_labels=list(ROUTE_KINDS),
        ax=ax,
        colorbar=False,
    )
    ax.set_xlabel("top served route")
    ax.set_ylabel("next route")
    ax.set_title("Next route vs top served route, by what the route is to the customer")
    ax.tick_params(axis="x", labelrotation=90)
    out["confusion_matrix"] = fig

    fig, ax = plt.subplots(figsize=(7, 4))
    positions = np.arange(len(kinds))
    ax.bar(
        positions - 0.2,
        np.bincount(truth_kind, minlength=len(kinds)) / len(labels),
        0.4,
        label="next route",
    )
    ax.bar(
        positions + 0.2,
        np.bincount(predicted_kind, minlength=len(kinds)) / len(labels),
        0.4,
        label="top served route",
    )
    ax.set_xticks(positions, list(ROUTE_KINDS), rotation=90)
    ax.set_ylabel("share of customers")
    ax.set_title("What the next route is to the customer")
    ax.legend()
    out["class_distribution"] = fig

    fig, ax = plt.subplots(figsize=(5, 4))
    truth = labels.to_numpy(dtype=object)
    hits = served.routes == truth[:, None]
    ks = np.arange(1, served.routes.shape[1] + 1)
    ax.plot(ks, [hits[:, :k].any(axis=1).mean() for k in ks], marker="o", label="served top-k")
    coverage = (served.candidates == truth[:, None]).any(axis=1).mean()
    ax.axhline(coverage, linestyle="--", color="grey", label="coverage (candidates)")
    ax.set_xlabel("k")
    ax.set_ylabel("share of next routes")
    ax.set_ylim(0, 1)
    ax.set_title("Top-k accuracy of the served routes")
    ax.legend()
    out["top_k_accuracy"] = fig
    return out


def _clustering(model: TrainedModel, holdout: Dataset) -> dict[str, Figure]:
    points, segments = clustering.assign(model, holdout.features)
    names = model.metadata["segment_names"]
    columns = model.metadata["feature_columns"]
    k = int(model.metadata["n_clusters"])
    centres = np.array(
        [
            points[segments == s].mean(axis=0)
            if np.any(segments == s)
            else np.zeros(points.shape[1])
            for s in range(k)
        ]
    )
    out: dict[str, Figure] = {}

    fig, ax = plt.subplots(figsize=(8, 0.6 * k + 2))
    image = ax.imshow(centres, cmap="coolwarm", vmin=-2, vmax=2, aspect="auto")
    ax.set_yticks(range(k), [f"{s}: {names[str(s)]}" for s in range(k)])
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    fig.colorbar(image, ax=ax, label="mean (standardised)")
    ax.set_title("Segment profiles (holdout)")
    fig.tight_layout()
    out["cluster_profiles"] = fig

    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = np.bincount(segments, minlength=k)
    ax.barh([names[str(s)] for s in range(k)], sizes)
    ax.set_xlabel("customers")
    ax.set_title("Segment sizes (holdout)")
    fig.tight_layout()
    out["segment_sizes"] = fig
    return out
