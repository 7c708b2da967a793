"""Evaluation figures per model kind (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    RocCurveDisplay,
)

from mingo.models import binary, clustering, multiclass
from mingo.models.base import Dataset, TrainedModel

MAX_CLASSES_SHOWN = 10


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


def _multiclass(model: TrainedModel, holdout: Dataset) -> dict[str, Figure]:
    if holdout.labels is None:
        raise ValueError("multiclass figures need holdout labels")
    vocabulary = [(r["origin"], r["destination"]) for r in model.metadata["route_classes"]]
    features = multiclass.inputs_for(model, holdout)
    proba, classes = multiclass.probabilities(model, features)
    truth = multiclass.class_of(holdout.labels, vocabulary)
    predicted = classes[np.argmax(proba, axis=1)]
    other = int(model.metadata["other_class"])
    # The most frequent true classes; every other class is folded into one cell.
    shown = [c for c in np.argsort(-np.bincount(truth, minlength=other + 1)) if c != other]
    shown = [*shown[: MAX_CLASSES_SHOWN - 1], other]
    names = [f"route {c}" for c in shown[:-1]] + ["other"]
    fold = np.vectorize(lambda c: c if c in shown else other)
    out: dict[str, Figure] = {}

    fig, ax = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay.from_predictions(
        fold(truth), fold(predicted), labels=shown, display_labels=names, ax=ax, colorbar=False
    )
    ax.set_title("Next route: confusion (most frequent classes)")
    ax.tick_params(axis="x", labelrotation=90)
    out["confusion_matrix"] = fig

    fig, ax = plt.subplots(figsize=(7, 4))
    positions = np.arange(len(shown))
    truth_share = [np.mean(fold(truth) == c) for c in shown]
    predicted_share = [np.mean(fold(predicted) == c) for c in shown]
    ax.bar(positions - 0.2, truth_share, width=0.4, label="actual")
    ax.bar(positions + 0.2, predicted_share, width=0.4, label="predicted")
    ax.set_xticks(positions, names, rotation=90)
    ax.set_ylabel("share of customers")
    ax.set_title("Class distribution")
    ax.legend()
    out["class_distribution"] = fig

    fig, ax = plt.subplots(figsize=(5, 4))
    ranks = np.argsort(-proba, axis=1)
    hits = classes[ranks] == truth[:, None]
    ks = np.arange(1, min(10, proba.shape[1]) + 1)
    ax.plot(ks, [hits[:, :k].any(axis=1).mean() for k in ks], marker="o")
    ax.set_xlabel("k")
    ax.set_ylabel("top-k accuracy")
    ax.set_title("Top-k accuracy")
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
