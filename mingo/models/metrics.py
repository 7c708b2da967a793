"""The contract's metrics, computed one way for models and baselines alike."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    davies_bouldin_score,
    f1_score,
    roc_auc_score,
    silhouette_score,
)

Array = npt.NDArray[np.float64]


def best_f1_threshold(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """The score threshold (predict positive when score >= threshold) with the best F1."""
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if y.sum() == 0:
        raise ValueError("cannot tune a threshold: the labels have no positive example")
    order = np.argsort(-s, kind="stable")
    sorted_scores, sorted_labels = s[order], y[order]
    # Candidate cut after each distinct score: everything at or above it is positive.
    last_of_value = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(s) - 1]
    true_pos = np.cumsum(sorted_labels)[last_of_value]
    predicted_pos = last_of_value + 1
    f1 = 2 * true_pos / (predicted_pos + y.sum())
    return float(sorted_scores[last_of_value[int(np.argmax(f1))]])


def binary_metrics(
    labels: npt.ArrayLike, scores: npt.ArrayLike, threshold: float
) -> dict[str, float]:
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"holdout labels hold a single class ({int(y[0]) if len(y) else 'none'}): "
            "roc_auc and pr_auc are undefined; choose another cutoff or more data"
        )
    predicted = (s >= threshold).astype(np.int64)
    return {
        "accuracy": float(np.mean(predicted == y)),
        # The mean of the recalls of buyers and non-buyers: a constant answer scores 0.5
        # whatever the positive rate, so no threshold trick wins the gate.
        "balanced_accuracy": float(balanced_accuracy_score(y, predicted)),
        "roc_auc": float(roc_auc_score(y, s)),
        "pr_auc": float(average_precision_score(y, s)),
        "f1": float(f1_score(y, predicted, zero_division=0.0)),
    }


def multiclass_metrics(
    labels: npt.ArrayLike, served: npt.ArrayLike, covered: npt.ArrayLike
) -> dict[str, float]:
    """Metrics of served route lists: `served[i]` is what customer i was answered, best first.

    `labels[i]` is customer i's next route; a hit is a served route equal to it, so a route
    that was not served (or an "other" bucket, which is never served) can never count. Top-k
    uses the first k served routes (k = 1, 3, 5); `macro_f1` compares the top served route
    ("" when none was served) with the label; `coverage` is the share of customers whose next
    route was among the routes the ranking could have named (`covered[i]`).
    """
    y = np.asarray(labels, dtype=object)
    answers = np.asarray(served, dtype=object)
    if len(y) == 0:
        raise ValueError("no labelled customer to score: the label window holds no purchase")
    if answers.ndim != 2 or answers.shape[0] != len(y):
        raise ValueError(f"served must be one list of routes per label, got {answers.shape}")
    hits = (answers == y[:, None]) & (answers != "")

    def top(k: int) -> float:
        return float(hits[:, :k].any(axis=1).mean())

    predicted = answers[:, 0].astype(str)
    return {
        "accuracy": top(1),
        "top_3_accuracy": top(3),
        "top_5_accuracy": top(5),
        "macro_f1": float(f1_score(y.astype(str), predicted, average="macro", zero_division=0.0)),
        "coverage": float(np.mean(np.asarray(covered, dtype=bool))),
    }


def sample_rows(n: int, size: int, seed: int) -> npt.NDArray[np.int64]:
    """A deterministic sample of row positions (all rows when n <= size), in row order."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def clustering_metrics(
    points: Array, segments: npt.ArrayLike, sample: int, seed: int
) -> dict[str, float]:
    """Silhouette on a deterministic sample of `sample` rows; Davies-Bouldin on all rows."""
    seg = np.asarray(segments)
    if len(np.unique(seg)) < 2:
        raise ValueError("every customer fell in one segment: silhouette is undefined")
    rows = sample_rows(len(seg), sample, seed)
    if len(np.unique(seg[rows])) < 2:
        rows = np.arange(len(seg))
    return {
        "silhouette": float(silhouette_score(points[rows], seg[rows])),
        "davies_bouldin": float(davies_bouldin_score(points, seg)),
    }
