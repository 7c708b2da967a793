"""MicroBatcher with a real trained model: merged answers equal answers alone."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest

from mingo.data.generate import generate_purchases
from mingo.models.api import ModelConfig, build_datasets, fit
from mingo.serving.batching import MicroBatcher
from mingo.serving.champion import LoadedChampion
from mingo.serving.predictor import ChampionPredictor, RejectedRequest
from mingo.serving.schemas import PredictRequest, PredictResponse
from tests.serving.conftest import customer_payloads

AS_OF = date(2024, 4, 1)


@pytest.fixture(scope="module")
def predictor_and_customers() -> tuple[ChampionPredictor, list[dict[str, Any]]]:
    purchases = generate_purchases(120, seed=31)
    config = ModelConfig(kind="clustering", n_clusters=3, silhouette_sample=100)
    train, _ = build_datasets(purchases, config)
    model = fit(train, config)
    champion = LoadedChampion("clustering", "mingo-clustering", "7", model)
    predictor = ChampionPredictor("clustering", lambda: champion)
    assert predictor.try_load()
    return predictor, customer_payloads(purchases)


class CountingScorer:
    """Scores with the real predictor and records how many customers each call held."""

    def __init__(self, predictor: ChampionPredictor) -> None:
        self.predictor = predictor
        self.calls: list[int] = []

    def __call__(self, request: PredictRequest) -> PredictResponse:
        self.calls.append(len(request.customers))
        return self.predictor.predict(request)


def single(customer: dict[str, Any], as_of: date | None = AS_OF) -> PredictRequest:
    return PredictRequest.model_validate({"customers": [customer], "as_of": as_of})


def test_concurrent_requests_merge_and_get_their_own_answers(
    predictor_and_customers: tuple[ChampionPredictor, list[dict[str, Any]]],
) -> None:
    predictor, customers = predictor_and_customers
    requests = [single(c) for c in customers[:12]]
    alone = [predictor.predict(r) for r in requests]
    scorer = CountingScorer(predictor)
    batcher = MicroBatcher(scorer)

    async def run() -> list[PredictResponse]:
        return list(await asyncio.gather(*(batcher.submit(r) for r in requests)))

    merged = asyncio.run(run())

    assert scorer.calls == [12]
    assert [m.model_dump() for m in merged] == [a.model_dump() for a in alone]


def test_only_compatible_requests_merge(
    predictor_and_customers: tuple[ChampionPredictor, list[dict[str, Any]]],
) -> None:
    predictor, customers = predictor_and_customers
    scorer = CountingScorer(predictor)
    batcher = MicroBatcher(scorer)
    requests = [
        single(customers[0]),
        single(customers[1], as_of=date(2024, 5, 1)),  # another date: scored apart
        single(customers[0]),  # same customer again: scored apart
        single(customers[2]),
    ]

    async def run() -> list[PredictResponse]:
        return list(await asyncio.gather(*(batcher.submit(r) for r in requests)))

    answers = asyncio.run(run())

    assert sorted(scorer.calls) == [1, 1, 2]
    assert [a.predictions[0].customer_id for a in answers] == [
        customers[i]["customer_id"] for i in (0, 1, 0, 2)
    ]


def test_a_rejected_request_does_not_spoil_its_batch(
    predictor_and_customers: tuple[ChampionPredictor, list[dict[str, Any]]],
) -> None:
    predictor, customers = predictor_and_customers
    cutoff = date(2019, 1, 1)

    def first_purchase(customer: dict[str, Any]) -> date:
        return min(date.fromisoformat(p["date_purchase"]) for p in customer["purchases"])

    with_history = [c for c in customers if first_purchase(c) <= cutoff][:3]
    newcomer = next(c for c in customers if first_purchase(c) > cutoff)
    # Built without validation (which would refuse purchases after as_of): all four share
    # one as_of and merge, and the model refuses the newcomer, who has no history by then.
    requests = [
        PredictRequest.model_construct(customers=single(c).customers, as_of=cutoff)
        for c in [*with_history, newcomer]
    ]
    scorer = CountingScorer(predictor)
    batcher = MicroBatcher(scorer)

    async def run() -> list[Any]:
        coros = [batcher.submit(r) for r in requests]
        return list(await asyncio.gather(*coros, return_exceptions=True))

    results = asyncio.run(run())

    assert scorer.calls == [4, 1, 1, 1, 1]
    assert all(isinstance(r, PredictResponse) for r in results[:3])
    assert isinstance(results[3], RejectedRequest)
    assert newcomer["customer_id"] in str(results[3])


def test_after_drain_is_told_the_customers_scored_once_the_queue_is_empty(
    predictor_and_customers: tuple[ChampionPredictor, list[dict[str, Any]]],
) -> None:
    from mingo.serving.memory import release_free_memory

    predictor, customers = predictor_and_customers
    drained: list[int] = []
    requests = [
        PredictRequest.model_validate({"customers": [c], "as_of": AS_OF}) for c in customers[:3]
    ]

    async def run() -> None:
        batcher = MicroBatcher(predictor.predict, after_drain=drained.append)
        await asyncio.gather(*(batcher.submit(r) for r in requests))
        await asyncio.sleep(0.1)  # the hook runs after the last answer

    asyncio.run(run())
    assert sum(drained) == 3
    assert release_free_memory()  # glibc here: the trim is really available


def test_a_request_arriving_while_the_after_drain_hook_runs_is_answered(
    predictor_and_customers: tuple[ChampionPredictor, list[dict[str, Any]]],
) -> None:
    # A client that sends its next request as soon as the previous answer arrives lands while
    # the drainer is still in the hook; the drainer must pick it up, not finish and strand it.
    import threading

    predictor, customers = predictor_and_customers
    hook_running = threading.Event()
    release_hook = threading.Event()

    def slow_hook(customers_scored: int) -> None:
        hook_running.set()
        release_hook.wait(5)

    first, second = (
        PredictRequest.model_validate({"customers": [c], "as_of": AS_OF}) for c in customers[:2]
    )

    async def run() -> PredictResponse:
        batcher = MicroBatcher(predictor.predict, after_drain=slow_hook)
        await batcher.submit(first)
        await asyncio.to_thread(hook_running.wait, 5)
        pending = asyncio.ensure_future(batcher.submit(second))
        await asyncio.sleep(0.05)
        release_hook.set()
        return await asyncio.wait_for(pending, timeout=10)

    answer = asyncio.run(run())
    assert [p.customer_id for p in answer.predictions] == [customers[1]["customer_id"]]
