"""Drift: how far recent requests moved from what a version was trained on (PSI).

The Population Stability Index compares two distributions over the same bins:

    PSI = sum over bins b of (cur_b - ref_b) * ln(cur_b / ref_b)

where `ref_b` and `cur_b` are the shares of the reference and of the current sample in bin b.
It is 0 for identical shares and grows with the shift; the usual reading is < 0.1 stable,
0.1-0.25 moderate, > 0.25 a major shift (the monitor's default threshold). Numeric bins are
the reference's deciles (edges de-duplicated, so a feature with many equal values gets fewer,
wider bins; open outer edges, so new extremes still land in a bin); a missing value is a bin
of its own. A share of 0 (a bin empty on one side) is floored at `PSI_EPSILON` so the sum stays
finite: one side's empty bin counts as a large but bounded contribution. Categorical values
(the top route, the segment) are compared over the union of the categories seen.

Evidently does the same and more, but it is not in the lock; this is the few lines needed.

The reference of a version is logged at registration (`log_reference_snapshot`): a bounded
sample of the holdout's customer-level features and of the version's predictions for them,
as two Parquet artifacts on the version's MLflow run.
"""

from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from mingo.models.base import Dataset, TrainedModel

PSI_BINS = 10
# Floor of a bin's share: ln(share) of an empty bin would be -inf.
PSI_EPSILON = 1e-4
# Rows of the reference sample logged with each version (features and predictions).
REFERENCE_SAMPLE_ROWS = 5_000
REFERENCE_SAMPLE_SEED = 0
REFERENCE_ARTIFACT_DIR = "monitoring"
REFERENCE_FEATURES = "reference_features.parquet"
REFERENCE_PREDICTIONS = "reference_predictions.parquet"
CUSTOMER_COLUMN = "customer_id"
PREDICTION_COLUMN = "prediction"

logger = logging.getLogger(__name__)


def _shares(counts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    total = counts.sum()
    shares = counts / total if total > 0 else np.zeros_like(counts)
    return np.maximum(shares, PSI_EPSILON)


def _psi_of_counts(ref: npt.NDArray[np.float64], cur: npt.NDArray[np.float64]) -> float:
    r, c = _shares(ref), _shares(cur)
    return float(np.sum((c - r) * np.log(c / r)))


def psi(reference: npt.ArrayLike, current: npt.ArrayLike, bins: int = PSI_BINS) -> float:
    """PSI of a numeric feature: `current` against the deciles of `reference`.

    NaN is a bin of its own. Raises ValueError when either sample is empty.
    """
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    if len(ref) == 0 or len(cur) == 0:
        raise ValueError(
            f"PSI needs two non-empty samples (reference {len(ref)}, current {len(cur)} values)"
        )
    ref_present, cur_present = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if len(ref_present):
        edges = np.unique(np.quantile(ref_present, np.linspace(0, 1, bins + 1)[1:-1]))
    else:
        edges = np.array([], dtype=np.float64)
    # Bin i holds (edge[i-1], edge[i]]; bin 0 and the last bin are open-ended.
    slots = len(edges) + 1

    def counts(values: npt.NDArray[np.float64], present: npt.NDArray[np.float64]) -> np.ndarray:
        binned = np.bincount(np.searchsorted(edges, present, side="left"), minlength=slots)
        return np.append(binned, len(values) - len(present)).astype(np.float64)

    return _psi_of_counts(counts(ref, ref_present), counts(cur, cur_present))


def categorical_psi(reference: npt.ArrayLike, current: npt.ArrayLike) -> float:
    """PSI of a categorical value over the union of the categories of both samples."""
    ref = pd.Series(np.asarray(reference, dtype=object)).astype(str)
    cur = pd.Series(np.asarray(current, dtype=object)).astype(str)
    if ref.empty or cur.empty:
        raise ValueError(
            f"PSI needs two non-empty samples (reference {len(ref)}, current {len(cur)} values)"
        )
    categories = sorted(set(ref) | set(cur))
    ref_counts = np.asarray(ref.value_counts().reindex(categories, fill_value=0), np.float64)
    cur_counts = np.asarray(cur.value_counts().reindex(categories, fill_value=0), np.float64)
    return _psi_of_counts(ref_counts, cur_counts)


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, float]:
    """PSI per numeric feature present in both frames (column order of the reference)."""
    drift: dict[str, float] = {}
    for column in reference.columns:
        if column == CUSTOMER_COLUMN or column not in current.columns:
            continue
        ref = pd.to_numeric(reference[column], errors="coerce")
        cur = pd.to_numeric(current[column], errors="coerce")
        if ref.notna().sum() == 0 and cur.notna().sum() == 0:
            continue
        value = psi(ref.to_numpy(np.float64), cur.to_numpy(np.float64))
        if math.isfinite(value):
            drift[str(column)] = value
    return drift


# -- the reference snapshot of a version ---------------------------------------------------


def reference_snapshot(trained: TrainedModel, holdout: Dataset) -> tuple[pd.DataFrame, pd.Series]:
    """(customer-level features, the model's prediction) of a bounded holdout sample.

    Features are `mingo.features.customer_features` as of the holdout cutoff, the frame the
    prediction log records for every KIND (binary and clustering train on it; multiclass's
    model inputs are per route candidate, so its customer features are computed from the
    holdout's history). The prediction is what prediction drift compares: binary the
    probability, multiclass the top served route key ("" when none), clustering the segment.
    """
    from mingo.features import customer_features
    from mingo.models import binary, clustering, multiclass
    from mingo.models.metrics import sample_rows

    rows = sample_rows(len(holdout.features), REFERENCE_SAMPLE_ROWS, REFERENCE_SAMPLE_SEED)
    sample = holdout.features.iloc[rows]
    prediction: npt.ArrayLike
    if trained.kind == "binary":
        features = sample
        prediction = binary.probabilities(trained, sample)
    elif trained.kind == "clustering":
        features = sample
        prediction = [str(s) for s in clustering.assign(trained, sample)[1]]
    else:
        if holdout.history is None:
            raise ValueError("the multiclass holdout carries no history to compute features")
        inputs = multiclass.inputs_for(trained, holdout).iloc[rows]
        served = multiclass.serve(inputs, multiclass.model_scores(trained, inputs))
        prediction = [str(r) for r in served.routes[:, 0]]
        features = customer_features(holdout.history, holdout.cutoff).reindex(inputs.index)
    index = pd.Index([str(c) for c in features.index], name=CUSTOMER_COLUMN)
    frame = pd.DataFrame(features.to_numpy(np.float64), columns=features.columns, index=index)
    return frame, pd.Series(np.asarray(prediction), index=index, name=PREDICTION_COLUMN)


def log_reference_snapshot(
    client: MlflowClient, run_id: str, trained: TrainedModel, holdout: Dataset
) -> None:
    """Log the version's reference sample on its run; a failure is logged, never raised.

    A version without a reference is still a valid model: the monitor then reports that input
    and prediction drift cannot be computed for it.
    """
    try:
        features, prediction = reference_snapshot(trained, holdout)
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            features.reset_index().to_parquet(directory / REFERENCE_FEATURES, index=False)
            prediction.reset_index().to_parquet(directory / REFERENCE_PREDICTIONS, index=False)
            for name in (REFERENCE_FEATURES, REFERENCE_PREDICTIONS):
                client.log_artifact(run_id, str(directory / name), REFERENCE_ARTIFACT_DIR)
    except Exception as error:
        logger.warning(
            "the monitoring reference of run %s was not logged (drift cannot be computed for "
            "this version): %s: %s",
            run_id,
            type(error).__name__,
            error,
        )


def load_reference_snapshot(
    client: MlflowClient, run_id: str
) -> tuple[pd.DataFrame, pd.Series] | None:
    """(features, prediction) logged for the run, or None when it has none."""
    names = {a.path for a in client.list_artifacts(run_id, REFERENCE_ARTIFACT_DIR)}
    wanted = [f"{REFERENCE_ARTIFACT_DIR}/{n}" for n in (REFERENCE_FEATURES, REFERENCE_PREDICTIONS)]
    if not all(name in names for name in wanted):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(client.download_artifacts(run_id, REFERENCE_ARTIFACT_DIR, tmp))
        features = pd.read_parquet(local / REFERENCE_FEATURES).set_index(CUSTOMER_COLUMN)
        prediction = pd.read_parquet(local / REFERENCE_PREDICTIONS).set_index(CUSTOMER_COLUMN)
    return features, prediction[PREDICTION_COLUMN]
