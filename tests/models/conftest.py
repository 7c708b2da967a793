"""Generated purchases and one trained model per kind, shared by the model tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from mingo.data.generate import generate_purchases
from mingo.models import Dataset, ModelConfig, TrainedModel, build_datasets, fit

CUSTOMERS = 6000
SEED = 11


@dataclass(frozen=True)
class Trained:
    config: ModelConfig
    train: Dataset
    holdout: Dataset
    model: TrainedModel


@pytest.fixture(scope="session", autouse=True)
def one_thread_per_process() -> Iterator[None]:
    # The suite shares 2 cores with other test processes: OpenMP threads of the boosted trees
    # would oversubscribe them and spin, which costs far more than it gains on small sets.
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def purchases() -> pd.DataFrame:
    return generate_purchases(CUSTOMERS, SEED)


def _train(purchases: pd.DataFrame, config: ModelConfig) -> Trained:
    train, holdout = build_datasets(purchases, config)
    return Trained(config, train, holdout, fit(train, config))


@pytest.fixture(scope="session")
def binary_model(purchases: pd.DataFrame) -> Trained:
    return _train(purchases, ModelConfig(kind="binary"))


@pytest.fixture(scope="session")
def multiclass_model(purchases: pd.DataFrame) -> Trained:
    return _train(purchases, ModelConfig(kind="multiclass", top_k_routes=20))


@pytest.fixture(scope="session")
def clustering_model(purchases: pd.DataFrame) -> Trained:
    return _train(purchases, ModelConfig(kind="clustering", k_range=(3, 6)))
