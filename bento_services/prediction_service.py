"""Wires `mingo.serving` to BentoML 1.4: one service class per model KIND, built here.

Model resolution: the service declares no `bentoml.models.BentoModel`. A declared BentoModel is
copied into the Bento at build time, which would freeze one version into the image, while the
registry (MLflow) and the Deployment decide what serves: at start each worker loads the version
`MINGO_MODEL_VERSION` pins (in Kubernetes, from the pod template), or, with nothing pinned
(`mingo serve` locally), resolves `models:/mingo-<kind>@champion` and loads that version
(`mingo.serving.champion`). bentoml#5319 (a model loaded at import
time from BentoML's own store is missing from a containerized Bento) does not arise, because
nothing is read from BentoML's store; what the Bento must carry is the code that loads and runs
the champion (`mingo`, scikit-learn, skops, MLflow), which the bentofiles include.

Settings (`mingo.config.Settings`: registry, API key, workers, threads, poll interval) are read
once per process, when this module is imported (by the BentoML CLI process and by each worker),
and passed down to the service class; nothing here reads the environment itself.

Prediction log (`mingo.monitoring.prediction_log`): every answer is handed to a
`PredictionLogWriter` (a bounded queue; one background thread per worker writes batches to
`MINGO_PREDICTION_LOG_URI`), so the request path only appends to a queue; what could not be
written is counted in `mingo_prediction_log_dropped_total{model,reason}`, what was written in
`mingo_prediction_log_written_total{model}`; shutdown writes what is still queued (bounded).

Logging: a client error (4xx) is one WARNING line naming status, method, path and reason
(`mingo.serving.client_errors`); only server errors (5xx) are logged with a traceback.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import bentoml
from starlette.responses import JSONResponse
from threadpoolctl import threadpool_limits

from mingo import ModelKind, registered_model_name
from mingo.config import Settings, load_settings
from mingo.monitoring.prediction_log import (
    PredictionLogWriter,
    PredictionStore,
    open_prediction_store,
)
from mingo.serving.batching import MicroBatcher
from mingo.serving.champion import (
    ChampionAlias,
    ChampionUnavailable,
    MissingPin,
    ModelCache,
    ModelLoader,
    PinnedVersion,
    missing_pin_message,
    model_source,
    pinned_reload_message,
)
from mingo.serving.client_errors import ClientErrorLog, drop_client_error_tracebacks
from mingo.serving.memory import TRIM_AFTER_CUSTOMERS, release_free_memory
from mingo.serving.predictor import ChampionPredictor, NoChampionLoaded, RejectedRequest
from mingo.serving.request_guard import RequestGuard
from mingo.serving.schemas import (
    RESPONSE_MODELS,
    CustomerHistory,
    PredictRequest,
    ReloadResponse,
    ignored_purchases,
)

MODEL_VERSION_HEADER = "X-Model-Version"
MODEL_NAME_HEADER = "X-Model-Name"
# How many purchases the row rules left out (training drops such rows); listed in the body.
IGNORED_PURCHASES_HEADER = "X-Ignored-Purchases"
# BentoML's logger of request exceptions: a traceback for every error, 4xx included.
BENTOML_REQUEST_ERROR_LOGGER = "bentoml._internal.server.http_app"

logger = logging.getLogger("mingo.serving.service")

# The environment, read once in this process (the CLI process and each worker).
SETTINGS = load_settings()


# Shared by the three services (one Prometheus registry per process), labelled by model.
BATCH_REQUESTS = bentoml.metrics.Histogram(
    name="mingo_predict_batch_requests",
    documentation="Requests scored together in one model call (adaptive batching)",
    labelnames=["model"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
CHAMPION_VERSION = bentoml.metrics.Gauge(
    name="mingo_champion_version",
    documentation="Registry version of the champion this worker serves",
    labelnames=["model"],
)
# Exposed as *_total (Prometheus counters).
PREDICTION_LOG_WRITTEN = bentoml.metrics.Counter(
    name="mingo_prediction_log_written",
    documentation="Answers (one per customer) written to the prediction log",
    labelnames=["model"],
)
PREDICTION_LOG_DROPPED = bentoml.metrics.Counter(
    name="mingo_prediction_log_dropped",
    documentation="Answers (one per customer) the prediction log could not write, by reason "
    "(queue_full, store_error, shutdown, invalid)",
    labelnames=["model", "reason"],
)
# How long a worker's shutdown waits for the prediction log to write what is queued.
PREDICTION_LOG_CLOSE_SECONDS = 10.0


def trim_after_large_batches(customers: int) -> None:
    # glibc keeps a burst's freed memory resident; give it back once the queue is empty.
    if customers >= TRIM_AFTER_CUSTOMERS:
        release_free_memory()


def error_response(
    ctx: bentoml.Context, status: int, message: str, detail: list[dict[str, Any]] | None = None
) -> Any:
    # BentoML copies ctx.response.status_code onto any response of an API taking `ctx`.
    ctx.response.status_code = status
    return JSONResponse({"error": message, "detail": detail or []}, status_code=status)


def start_prediction_log(
    kind: ModelKind, store: PredictionStore | None
) -> PredictionLogWriter | None:
    if store is None:
        logger.info("MINGO_PREDICTION_LOG_URI=off: answers are not logged")
        return None
    model = registered_model_name(kind)
    written = PREDICTION_LOG_WRITTEN.labels(model=model)
    written.inc(0)  # the series exists (at 0) before the first write
    logger.info("logging answers to %r", store)

    def dropped(reason: str, count: int) -> None:
        PREDICTION_LOG_DROPPED.labels(model=model, reason=reason).inc(count)

    return PredictionLogWriter(
        store, on_written=written.inc, on_dropped=dropped, name=f"{kind}-prediction-log"
    )


def build_prediction_service(kind: ModelKind, settings: Settings) -> Any:
    # Raises SettingsError (an empty MINGO_API_KEY, say): the service must not start.
    api_key = settings.service_api_key()
    # Raises ValueError for a URI that names no store: refuse to start rather than not log.
    log_store = (
        open_prediction_store(settings.prediction_log_uri)
        if settings.prediction_log_uri is not None
        else None
    )

    @bentoml.service(
        name=f"{kind}-prediction",
        workers=settings.service_workers,
        traffic={"timeout": 60},
        endpoints={"livez": "/livez", "readyz": "/readyz"},
    )
    class PredictionService:
        def __init__(self) -> None:
            # One BLAS/OpenMP thread per worker: scale with workers, not threads, so that
            # workers never oversubscribe the cores.
            threadpool_limits(limits=settings.threads_per_worker)
            if api_key is None:
                logger.warning(
                    "no MINGO_API_KEY: serving without authentication (set a key to require it)"
                )
            drop_client_error_tracebacks(logging.getLogger(BENTOML_REQUEST_ERROR_LOGGER))
            self.source = model_source(settings.model_version)
            cache = ModelCache(settings.model_cache_dir) if settings.model_cache_dir else None
            loader = ModelLoader(kind, settings.mlflow_tracking_uri, self.source, cache)
            missing = missing_pin_message(kind) if isinstance(self.source, MissingPin) else None
            self.predictor = ChampionPredictor(kind, loader, not_loaded_message=missing)
            model_name = registered_model_name(kind)
            self.batcher = MicroBatcher(
                self.predictor.predict,
                max_customers=settings.max_batch_customers,
                after_drain=trim_after_large_batches,
                observe=BATCH_REQUESTS.labels(model=model_name).observe,
            )
            self.predictor.on_load = lambda champion: CHAMPION_VERSION.labels(
                model=champion.name
            ).set(float(champion.version))
            self.prediction_log = start_prediction_log(kind, log_store)
            self.predictor.prediction_log = self.prediction_log
            if missing is not None:
                # Alive but never ready: guessing a version would defeat the pin.
                logger.error("not ready: %s", missing)
            elif not self.predictor.try_load():
                self.predictor.keep_trying_until_loaded(settings.champion_poll_seconds)

        def __is_ready__(self) -> bool:
            return self.predictor.ready

        @bentoml.on_shutdown
        async def close_prediction_log(self) -> None:
            import anyio

            if self.prediction_log is not None:
                await anyio.to_thread.run_sync(
                    self.prediction_log.close, PREDICTION_LOG_CLOSE_SECONDS
                )

        @bentoml.api(route="/predict", input_spec=PredictRequest, output_spec=RESPONSE_MODELS[kind])
        async def predict(
            self, customers: list[CustomerHistory], as_of: date | None, ctx: bentoml.Context
        ) -> Any:
            # The body was validated against PredictRequest by BentoML already.
            request = PredictRequest.model_construct(customers=customers, as_of=as_of)
            try:
                response = await self.batcher.submit(request)
            except RejectedRequest as error:
                return error_response(ctx, 422, str(error), error.detail)
            except NoChampionLoaded as error:
                return error_response(ctx, 503, str(error))
            ctx.response.headers[MODEL_NAME_HEADER] = response.model
            ctx.response.headers[MODEL_VERSION_HEADER] = response.model_version
            ignored = ignored_purchases(customers)
            ctx.response.headers[IGNORED_PURCHASES_HEADER] = str(len(ignored))
            if ignored:
                response = response.model_copy(update={"ignored_purchases": ignored})
            return response

        @bentoml.api(route="/admin/reload")
        async def reload(self, ctx: bentoml.Context) -> ReloadResponse:
            """Load the registry's current champion, then swap it in; requests in flight finish.

            A service whose Deployment pins a version (or pins nothing) refuses with 409: the
            version changes only by rolling the Deployment.
            """
            import anyio

            match self.source:
                case PinnedVersion(version=version):
                    return error_response(ctx, 409, pinned_reload_message(kind, version))
                case MissingPin():
                    return error_response(ctx, 409, missing_pin_message(kind))
                case ChampionAlias():
                    pass

            try:
                outcome = await anyio.to_thread.run_sync(self.predictor.reload)
            except ChampionUnavailable as error:
                current = self.predictor.champion
                kept = f"; still serving version {current.version}" if current else ""
                return error_response(ctx, 503, f"reload failed: {error}{kept}")
            champion = outcome.champion
            ctx.response.headers[MODEL_NAME_HEADER] = champion.name
            ctx.response.headers[MODEL_VERSION_HEADER] = champion.version
            return ReloadResponse(
                model=champion.name,
                model_version=champion.version,
                previous_version=outcome.previous_version,
                reloaded=outcome.changed,
            )

    # The first middleware added is the outer one: ClientErrorLog sees RequestGuard's 4xx too.
    PredictionService.add_asgi_middleware(ClientErrorLog)
    PredictionService.add_asgi_middleware(
        RequestGuard, api_key=api_key, max_in_flight=settings.max_requests_in_flight
    )
    return PredictionService
