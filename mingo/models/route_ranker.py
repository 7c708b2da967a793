"""A class-agnostic next-route classifier: one shared scorer for every candidate route.

A customer's next route is mostly one they already know (their usual route, the way back
from their last trip), whoever the customer and whichever the route. A per-class model has to
learn that separately for each of the K routes from few examples; this estimator instead
scores every candidate class c of every customer with the same few signals (the customer's
share of orders on c, whether c is their most frequent route, their last route, or their last
route reversed, and c's popularity among training labels) and turns the scores into
probabilities with a softmax over the candidates (a conditional-logit ranker).

Input columns, in order: top_route_class, last_route_class, last_route_reversed_class,
open_trip, then the K + 1 route shares (the last one "other"). Classes are 0..K, K being
"other".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

Array = npt.NDArray[np.float64]

CODE_COLUMNS = 3
OPEN_TRIP = CODE_COLUMNS  # column index
FIRST_SHARE = CODE_COLUMNS + 1
MAX_FIT_CUSTOMERS = 50_000  # candidate rows are customers x (K + 1): bound the fit's memory


class RouteRanker(ClassifierMixin, BaseEstimator):
    def __init__(self, regularization: float = 1.0, random_state: int = 0) -> None:
        self.regularization = regularization
        self.random_state = random_state

    def _candidate_signals(self, x: Array) -> Array:
        """(customers, K + 1, signals) array of per-candidate signals."""
        x = np.asarray(x, dtype=np.float64)
        n = x.shape[0]
        n_classes = x.shape[1] - FIRST_SHARE
        candidate = np.arange(n_classes)[None, :]
        shares = x[:, FIRST_SHARE:]
        open_trip = x[:, [OPEN_TRIP]] > 0
        is_top = x[:, [0]] == candidate
        is_last = x[:, [1]] == candidate
        is_last_reversed = x[:, [2]] == candidate
        is_other = np.broadcast_to(candidate == n_classes - 1, (n, n_classes))
        prior = np.broadcast_to(self.log_prior_[None, :], (n, n_classes))
        return np.stack(
            [
                shares,
                is_top,
                is_last,
                is_last_reversed,
                is_top & is_last_reversed,
                is_last & ~is_top,
                is_last_reversed & open_trip,
                is_top & ~open_trip,
                is_other,
                prior,
            ],
            axis=2,
        ).astype(np.float64)

    def fit(self, x: Array, y: npt.ArrayLike) -> RouteRanker:
        x = np.asarray(x, dtype=np.float64)
        labels = np.asarray(y, dtype=np.int64)
        n_classes = x.shape[1] - FIRST_SHARE
        if labels.min() < 0 or labels.max() >= n_classes:
            raise ValueError(f"labels must be classes 0..{n_classes - 1}")
        counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
        self.log_prior_ = np.log((counts + 1.0) / (counts.sum() + n_classes))
        rows = np.arange(len(labels))
        if len(rows) > MAX_FIT_CUSTOMERS:
            rng = np.random.default_rng(self.random_state)
            rows = np.sort(rng.choice(len(rows), MAX_FIT_CUSTOMERS, replace=False))
        signals = self._candidate_signals(x[rows])
        chosen = labels[rows][:, None] == np.arange(n_classes)[None, :]
        scorer = LogisticRegression(C=self.regularization, max_iter=1000)
        scorer.fit(signals.reshape(-1, signals.shape[2]), chosen.ravel())
        self.weights_ = np.asarray(scorer.coef_[0], dtype=np.float64)
        self.classes_ = np.arange(n_classes)
        self.n_features_in_ = x.shape[1]
        return self

    def decision_function(self, x: Array) -> Array:
        return np.asarray(self._candidate_signals(x) @ self.weights_, dtype=np.float64)

    def predict_proba(self, x: Array) -> Array:
        scores = self.decision_function(x)
        scores -= scores.max(axis=1, keepdims=True)
        odds = np.exp(scores)
        return np.asarray(odds / odds.sum(axis=1, keepdims=True), dtype=np.float64)

    def predict(self, x: Array) -> Any:
        return self.classes_[np.argmax(self.decision_function(x), axis=1)]
