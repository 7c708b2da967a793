"""PSI: identical samples give ~0, a shift gives a large value, empty bins and NaN stay finite."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mingo.monitoring.drift import PSI_EPSILON, categorical_psi, feature_drift, psi


def test_identical_distributions_have_a_psi_near_zero() -> None:
    rng = np.random.default_rng(0)
    sample = rng.normal(size=5000)
    assert psi(sample, sample) == pytest.approx(0.0, abs=1e-12)
    # Two samples of one distribution: small, well under the 0.1 "stable" mark.
    assert psi(sample, rng.normal(size=5000)) < 0.02


def test_a_shifted_distribution_has_a_large_psi_growing_with_the_shift() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(size=5000)
    small = psi(reference, rng.normal(loc=0.2, size=5000))
    large = psi(reference, rng.normal(loc=1.0, size=5000))
    assert 0.02 < small < 0.25
    assert large > 0.25
    assert large > 3 * small


def test_empty_bins_on_one_side_stay_finite() -> None:
    reference = np.zeros(1000)  # one value: the deciles collapse into a single edge
    current = np.full(1000, 5.0)  # every value beyond it: the reference's bin is empty here
    value = psi(reference, current)
    assert math.isfinite(value)
    # Each side's empty bin has its share floored at epsilon: (1 - eps) * ln(1 / eps), twice.
    expected = 2 * (1 - PSI_EPSILON) * math.log(1 / PSI_EPSILON)
    assert value == pytest.approx(expected, rel=1e-6)


def test_missing_values_are_a_bin_of_their_own() -> None:
    rng = np.random.default_rng(2)
    reference = rng.normal(size=2000)
    current = reference.copy()
    current[:1000] = np.nan  # half the current values missing, none in the reference
    assert psi(reference, current) > 1.0
    assert psi(np.full(10, np.nan), np.full(10, np.nan)) == pytest.approx(0.0)


def test_psi_refuses_an_empty_sample() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        psi([], [1.0, 2.0])
    with pytest.raises(ValueError, match="non-empty"):
        categorical_psi(["a"], [])


def test_categorical_psi_over_the_union_of_categories() -> None:
    same = ["a"] * 50 + ["b"] * 50
    assert categorical_psi(same, list(reversed(same))) == pytest.approx(0.0)
    # A category seen only in the current sample counts (the reference's share is floored).
    assert categorical_psi(same, ["c"] * 100) > 5.0
    assert 0.0 < categorical_psi(same, ["a"] * 60 + ["b"] * 40) < 0.1


def test_feature_drift_is_per_shared_numeric_column() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(size=500), "only": 1.0})
    current = pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(loc=2, size=500)})
    drift = feature_drift(reference, current)
    assert set(drift) == {"a", "b"}
    assert drift["a"] < 0.1 < 0.25 < drift["b"]
