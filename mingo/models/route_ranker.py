"""A conditional-logit ranker over each customer's own candidate routes.

A customer's next route is mostly one they already know (their usual route, the way back
from their last trip), whoever the customer and whichever the route. So one shared scorer
rates every candidate of every customer from the same few signals (`mingo.features.routes`:
share of the customer's orders on the route and on its way back, most frequent, last route,
its way back, open return, recency, popularity, ...) and a softmax over the customer's
candidates turns the scores into probabilities (a conditional logit, fitted by maximum
likelihood with an L2 penalty).

Input: one row per customer, `slots` candidates x `len(SIGNALS)` signals, slot-major (the
numeric columns `route_feature_columns(P)`); a slot whose `present` signal is 0 is empty and
gets probability 0. Target: the slot of the customer's next route, or -1 when it is none of
their candidates (such rows cannot teach the ranking and are left out of the fit). Classes
are slot positions 0..slots-1; which route a slot holds is in the key columns beside the
signals (`route_key_columns(P)`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin

from mingo.features.routes import SIGNALS

Array = npt.NDArray[np.float64]

MAX_FIT_CUSTOMERS = 30_000  # the fit holds customers x slots x terms floats: bound it
SCORE_CHUNK = 20_000  # customers scored at a time: bounds scoring memory the same way

_S = {name: i for i, name in enumerate(SIGNALS)}

TERMS: tuple[str, ...] = (
    "share",
    "reverse_share",
    "travelled",
    "is_top",
    "is_last",
    "is_last_reversed",
    "open_return",
    "recency",
    "reverse_recency",
    "popularity",
    "is_popular",
    "top_without_open_trip",
    "last_not_top",
    "top_and_last_reversed",
    "share_x_log_orders",
    "reverse_share_x_log_orders",
    "travelled_x_log_orders",
    "last_reversed_of_one_order",
    "open_return_x_reverse_recency",
    "popular_only",
)


def candidate_terms(x: npt.ArrayLike, n_signals: int) -> tuple[Array, npt.NDArray[np.bool_]]:
    """(customers, slots, terms) design of every candidate, and which slots hold one."""
    signals = np.asarray(x, dtype=np.float64)
    signals = signals.reshape(signals.shape[0], -1, n_signals)

    def s(name: str) -> Array:
        return signals[:, :, _S[name]]

    present = s("present") > 0
    travelled = (s("share") > 0).astype(np.float64)
    log_orders = s("log_orders")
    open_trip = s("open_return").max(axis=1, keepdims=True)
    is_popular = (s("popularity") > 0).astype(np.float64)
    known = np.maximum(travelled, (s("reverse_share") > 0).astype(np.float64))
    terms = np.stack(
        [
            s("share"),
            s("reverse_share"),
            travelled,
            s("is_top"),
            s("is_last"),
            s("is_last_reversed"),
            s("open_return"),
            s("recency"),
            s("reverse_recency"),
            s("popularity"),
            is_popular,
            s("is_top") * (1.0 - open_trip),
            s("is_last") * (1.0 - s("is_top")),
            s("is_top") * s("is_last_reversed"),
            s("share") * log_orders,
            s("reverse_share") * log_orders,
            travelled * log_orders,
            s("is_last_reversed") * (log_orders == 0),
            s("open_return") * s("reverse_recency"),
            is_popular * (1.0 - known),
        ],
        axis=2,
    )
    return terms, present


def softmax_over_present(scores: Array, present: npt.NDArray[np.bool_]) -> Array:
    """Row-wise softmax over the present slots; absent slots get 0."""
    masked = np.where(present, scores, -np.inf)
    top = masked.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    odds = np.where(present, np.exp(masked - top), 0.0)
    total = odds.sum(axis=1, keepdims=True)
    return np.asarray(odds / np.where(total > 0, total, 1.0), dtype=np.float64)


class RouteRanker(ClassifierMixin, BaseEstimator):
    def __init__(
        self, n_signals: int = len(SIGNALS), regularization: float = 1.0, random_state: int = 0
    ) -> None:
        self.n_signals = n_signals
        self.regularization = regularization
        self.random_state = random_state

    def fit(self, x: npt.ArrayLike, y: npt.ArrayLike) -> RouteRanker:
        signals = np.asarray(x)
        chosen = np.asarray(y, dtype=np.int64)
        slots = signals.shape[1] // self.n_signals
        if signals.shape[1] != slots * self.n_signals:
            raise ValueError(f"{signals.shape[1]} columns are not slots x {self.n_signals}")
        if chosen.max(initial=-1) >= slots or chosen.min(initial=0) < -1:
            raise ValueError(f"targets must be slots 0..{slots - 1} or -1 (no candidate)")
        rows = np.flatnonzero(chosen >= 0)
        if len(rows) == 0:
            raise ValueError("no training customer's next route is among their candidates")
        if len(rows) > MAX_FIT_CUSTOMERS:
            rng = np.random.default_rng(self.random_state)
            rows = np.sort(rng.choice(rows, MAX_FIT_CUSTOMERS, replace=False))
        terms, present = candidate_terms(signals[rows], self.n_signals)
        target = chosen[rows]
        picked = terms[np.arange(len(rows)), target]  # (rows, terms)
        if not present[np.arange(len(rows)), target].all():
            raise ValueError("a target slot is empty")
        penalty = 1.0 / (self.regularization * len(rows))

        def loss(weights: Array) -> tuple[float, Array]:
            scores = np.where(present, terms @ weights, -np.inf)
            top = scores.max(axis=1, keepdims=True)
            log_total = top[:, 0] + np.log(np.exp(scores - top).sum(axis=1))
            proba = np.exp(scores - log_total[:, None])
            nll = float(np.mean(log_total - picked @ weights))
            expected = np.einsum("nc,nct->nt", proba, terms)
            gradient = (expected - picked).mean(axis=0) + penalty * weights
            return nll + 0.5 * penalty * float(weights @ weights), gradient

        result = minimize(
            loss, np.zeros(terms.shape[2]), jac=True, method="L-BFGS-B", options={"maxiter": 500}
        )
        self.weights_ = np.asarray(result.x, dtype=np.float64)
        self.classes_ = np.arange(slots)
        self.n_features_in_ = signals.shape[1]
        self.fit_customers_ = len(rows)
        return self

    def decision_function(self, x: npt.ArrayLike) -> Array:
        """Score of every slot; -inf for empty slots."""
        signals = np.asarray(x)
        out = np.empty((signals.shape[0], signals.shape[1] // self.n_signals))
        for start in range(0, signals.shape[0], SCORE_CHUNK):
            chunk = slice(start, start + SCORE_CHUNK)
            terms, present = candidate_terms(signals[chunk], self.n_signals)
            out[chunk] = np.where(present, terms @ self.weights_, -np.inf)
        return out

    def predict_proba(self, x: npt.ArrayLike) -> Array:
        scores = self.decision_function(x)
        return softmax_over_present(np.where(np.isfinite(scores), scores, 0.0), np.isfinite(scores))

    def predict(self, x: npt.ArrayLike) -> Any:
        return self.classes_[np.argmax(self.decision_function(x), axis=1)]
