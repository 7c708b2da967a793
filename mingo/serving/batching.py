"""Adaptive batching: requests that arrive while the model is busy are scored in one call.

Scoring has a large fixed cost per call (building the purchase history, a pandas group-by,
the calibrated ensemble's per-call overhead) and a small cost per customer, so under load
merging waiting requests multiplies throughput. The batcher never waits on purpose: an idle
service scores a request at once, and batches form only from requests that queued behind a
running call, so single-request latency at low load is unchanged.

Requests merge only when scoring them together gives each the answer it would get alone:
the same effective `as_of` (an omitted `as_of` means the latest purchase date of that
request, the rule of `mingo.models.api.predict`) and no customer in two requests.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from mingo.serving.predictor import RejectedRequest
from mingo.serving.schemas import MAX_CUSTOMERS_PER_REQUEST, PredictRequest, PredictResponse

BatchKey = tuple[str, date]
Scorer = Callable[[PredictRequest], PredictResponse]
BatchObserver = Callable[[int], None]  # told the number of requests of every model call
AfterDrain = Callable[[int], None]  # told the customers scored since the queue was last empty


def batch_key(request: PredictRequest) -> BatchKey:
    """Requests with equal keys are scored as of the same date."""
    if request.as_of is not None:
        return ("as_of", request.as_of)
    latest = max(p.date_purchase for c in request.customers for p in c.purchases)
    return ("latest_purchase", latest)


@dataclass
class _Waiting:
    request: PredictRequest
    key: BatchKey
    future: asyncio.Future[PredictResponse]
    customer_ids: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.customer_ids = frozenset(c.customer_id for c in self.request.customers)


class MicroBatcher:
    def __init__(
        self,
        score: Scorer,
        max_customers: int = MAX_CUSTOMERS_PER_REQUEST,
        observe: BatchObserver | None = None,
        after_drain: AfterDrain | None = None,
    ) -> None:
        self._score = score
        self._max_customers = max_customers
        self._observe = observe
        # Runs in a thread once the queue is empty (e.g. return freed memory to the system).
        self._after_drain = after_drain
        self._queue: deque[_Waiting] = deque()
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, request: PredictRequest) -> PredictResponse:
        loop = asyncio.get_running_loop()
        waiting = _Waiting(request, batch_key(request), loop.create_future())
        self._queue.append(waiting)
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        return await waiting.future

    async def _drain(self) -> None:
        while self._queue:
            customers = 0
            while self._queue:
                batch = self._take_batch()
                customers += sum(len(w.customer_ids) for w in batch)
                await self._score_batch(batch)
            if self._after_drain is not None:
                await asyncio.to_thread(self._after_drain, customers)
            # Requests that arrived during the hook found this drainer still running and did
            # not start another: score them before finishing (the outer loop checks again).

    def _take_batch(self) -> list[_Waiting]:
        first = self._queue.popleft()
        batch = [first]
        customers = len(first.customer_ids)
        seen = set(first.customer_ids)
        left: deque[_Waiting] = deque()
        while self._queue:
            candidate = self._queue.popleft()
            fits = customers + len(candidate.customer_ids) <= self._max_customers
            if candidate.key == first.key and fits and seen.isdisjoint(candidate.customer_ids):
                batch.append(candidate)
                customers += len(candidate.customer_ids)
                seen.update(candidate.customer_ids)
            else:
                left.append(candidate)
        self._queue = left
        return batch

    async def _score_batch(self, batch: list[_Waiting]) -> None:
        if self._observe is not None:
            self._observe(len(batch))
        if len(batch) == 1:
            await self._score_alone(batch[0])
            return
        merged = PredictRequest.model_construct(
            customers=[c for w in batch for c in w.request.customers],
            as_of=batch[0].request.as_of,
        )
        try:
            response = await asyncio.to_thread(self._score, merged)
        except RejectedRequest:
            # One request spoiled the batch: score each alone so only that one gets the 4xx.
            for waiting in batch:
                await self._score_alone(waiting)
            return
        except Exception as error:
            for waiting in batch:
                _resolve(waiting, error=error)
            return
        start = 0
        for waiting in batch:
            end = start + len(waiting.request.customers)
            part = response.model_copy(update={"predictions": response.predictions[start:end]})
            _resolve(waiting, result=part)
            start = end

    async def _score_alone(self, waiting: _Waiting) -> None:
        try:
            response = await asyncio.to_thread(self._score, waiting.request)
        except Exception as error:
            _resolve(waiting, error=error)
            return
        _resolve(waiting, result=response)


def _resolve(
    waiting: _Waiting, result: PredictResponse | None = None, error: BaseException | None = None
) -> None:
    # The caller may have gone away (client disconnect cancels its future).
    if waiting.future.done():
        return
    if error is not None:
        waiting.future.set_exception(error)
    elif result is not None:
        waiting.future.set_result(result)
