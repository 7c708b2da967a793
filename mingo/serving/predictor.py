"""The framework-free core of a prediction service: hold a champion, answer, swap it safely.

A request reads `self._champion` once and uses that object to the end, and a reload assigns
the attribute only after the new champion is fully loaded: a request in flight during a
reload finishes on the model it started with, and no request ever sees a half-loaded model.
If loading fails (registry unreachable, alias removed) the old champion keeps serving.

Each answer, with the customer-level features it was computed from and their as-of date, is
handed to `prediction_log` when one is set (`mingo.monitoring.prediction_log`: a queue append,
never a write, never an exception).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from mingo import ModelKind
from mingo.models.api import predict_scored
from mingo.monitoring.prediction_log import PredictionLogWriter, ServedPredictions
from mingo.serving.champion import ChampionUnavailable, LoadedChampion
from mingo.serving.payload import purchases_frame
from mingo.serving.schemas import RESPONSE_MODELS, PredictRequest, PredictResponse

logger = logging.getLogger(__name__)

ChampionLoader = Callable[[], LoadedChampion]


class RejectedRequest(ValueError):
    """The request is well-formed JSON but cannot be scored; `detail` says why (HTTP 422)."""

    def __init__(self, message: str, detail: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.detail = detail or []


class NoChampionLoaded(RuntimeError):
    """The service has not loaded any champion yet (HTTP 503, and /readyz is not ready)."""


@dataclass(frozen=True)
class ReloadOutcome:
    champion: LoadedChampion
    previous_version: str | None

    @property
    def changed(self) -> bool:
        return self.previous_version != self.champion.version


class ChampionPredictor:
    def __init__(
        self, kind: ModelKind, loader: ChampionLoader, not_loaded_message: str | None = None
    ) -> None:
        self.kind = kind
        self._loader = loader
        # What /predict says while nothing is loaded (e.g. why nothing ever will be).
        self.not_loaded_message = not_loaded_message or f"no champion of mingo-{kind} is loaded yet"
        self._champion: LoadedChampion | None = None
        # Serialises reloads with each other; predictions never take this lock.
        self._reload_lock = threading.Lock()
        self._retry_stop = threading.Event()
        self.on_load: Callable[[LoadedChampion], None] | None = None  # e.g. export a metric
        # Every answer is handed to it (a queue append; it writes in its own thread).
        self.prediction_log: PredictionLogWriter | None = None

    @property
    def champion(self) -> LoadedChampion | None:
        return self._champion

    @property
    def ready(self) -> bool:
        return self._champion is not None

    def reload(self) -> ReloadOutcome:
        """Load the registry's current champion, then swap it in; raises ChampionUnavailable."""
        with self._reload_lock:
            previous = self._champion
            fresh = self._loader()
            if fresh.kind != self.kind:
                raise ChampionUnavailable(f"loader returned a {fresh.kind} model for {self.kind}")
            self._champion = fresh
        if self.on_load is not None:
            self.on_load(fresh)
        previous_version = previous.version if previous is not None else None
        logger.info("serving %s version %s (was %s)", fresh.name, fresh.version, previous_version)
        return ReloadOutcome(champion=fresh, previous_version=previous_version)

    def try_load(self) -> bool:
        """One load attempt at start; False (and a log line) when there is no champion yet."""
        try:
            self.reload()
        except ChampionUnavailable as error:
            logger.warning("not ready: %s", error)
            return False
        return True

    def keep_trying_until_loaded(self, interval_seconds: float) -> threading.Thread:
        """Poll the registry in the background until a first champion loads.

        A service started before anything was promoted becomes ready on its own once a
        champion appears; after the first load only an explicit reload changes the model.
        """

        def poll() -> None:
            while not self.ready and not self._retry_stop.wait(interval_seconds):
                self.try_load()

        thread = threading.Thread(target=poll, name=f"{self.kind}-champion-poll", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._retry_stop.set()

    def predict(self, request: PredictRequest) -> PredictResponse:
        champion = self._champion
        if champion is None:
            raise NoChampionLoaded(self.not_loaded_message)
        purchases = purchases_frame(request)
        try:
            scored = predict_scored(champion.model, purchases, request.as_of)
        except ValueError as error:
            # The models code raises ValueError for input it cannot score (e.g. no purchase
            # on or before as_of): that is the caller's to fix, so it is a 4xx, not a 5xx.
            raise RejectedRequest(f"the model cannot score this request: {error}") from error
        by_customer = {str(item["customer_id"]): item for item in scored.predictions}
        ordered = [by_customer[customer.customer_id] for customer in request.customers]
        response_model = RESPONSE_MODELS[self.kind]
        try:
            response = response_model.model_validate(
                {"model": champion.name, "model_version": champion.version, "predictions": ordered}
            )
        except ValidationError as error:
            raise RuntimeError(f"{champion.name} produced an invalid answer: {error}") from error
        if self.prediction_log is not None:
            # The items and the feature frame as they are: the log's thread serialises them.
            self.prediction_log.submit(
                ServedPredictions(
                    kind=self.kind,
                    model_version=champion.version,
                    as_of=scored.as_of,
                    served_at=datetime.now(UTC),
                    predictions=response.predictions,
                    features=scored.features,
                )
            )
        return response
