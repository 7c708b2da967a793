"""Data-aware scheduling: the purchases Asset, the cron-or-asset schedule, the landed file.

A retraining DAG with `on_new_data: true` also runs when the purchases asset gets an event:
an upstream task that declares the asset as an outlet finished, or automation posted one with
`POST /api/v2/assets/events`. The event's extra names the file that landed, under the same
name as the trigger-form Param: `{"data_uri": "s3://mingo-data/clickbus/2026-06-01.csv"}`.
`validate_data` and `retrain` take it from the run's triggering events before they build
their command, so the run trains on that file, not on the Param's default.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from airflow import settings
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable
from airflow.sdk.exceptions import AirflowFailException, ParamValidationError

from mingo_dags.config import DagConfig, ModelDagConfig

# The key of the event's extra, the Param and the mapping the command builders read: one name.
DATA_URI = "data_uri"

Schedule = str | None | Asset | AssetOrTimeSchedule


def purchases_asset(config: DagConfig) -> Asset:
    """The Asset whose events mean new purchase data (Airflow strips a trailing `/`)."""
    return Asset(name=config.purchases_asset.name, uri=config.purchases_asset.uri)


def retrain_schedule(model: ModelDagConfig, asset: Asset) -> Schedule:
    """The cron alone, or (on_new_data) the cron OR an event of the asset; no cron: the asset."""
    if not model.on_new_data:
        return model.schedule
    if model.schedule is None:
        return asset
    # The timetable Airflow makes of a plain cron string (the DAG's start date is naive, so its
    # zone is core.default_timezone): cron OR asset fires at the same times as the cron alone.
    timetable = CronTriggerTimetable(model.schedule, timezone=settings.TIMEZONE)
    return AssetOrTimeSchedule(timetable=timetable, assets=asset)


def landed_data_uri(events: Sequence[Any]) -> str | None:
    """The `data_uri` of the newest event that carries one (several may land between runs:
    the DAG allows one active run, and a run consumes every event queued since the last)."""
    with_uri = [event for event in events if (event.extra or {}).get(DATA_URI)]
    if not with_uri:
        return None
    return str(max(with_uri, key=lambda event: event.timestamp).extra[DATA_URI])


class UseLandedData:
    """pre_execute hook of the steps that read the data: in a run triggered by the asset,
    params["data_uri"] becomes the data_uri of the triggering event, checked by the same
    Param as the trigger form (a bad one fails the task without retry).

    An event without a data_uri (an outlet that set no extra, the file replaced in place) keeps
    the Param's default, which is what a scheduled run reads.
    """

    def __init__(self, asset: Asset) -> None:
        self.asset = asset

    def events(self, context: Mapping[str, Any]) -> Sequence[Any]:
        triggering = context.get("triggering_asset_events") or {}
        try:
            return list(triggering[self.asset])
        except KeyError:
            return []

    def __call__(self, context: Any) -> None:
        events = self.events(context)
        if not events:
            return
        # The task's own logger: its lines are in the task log the UI and the API show.
        log = context["task"].log
        uri = landed_data_uri(events)
        if uri is None:
            log.info(
                "run triggered by %d event(s) of asset %s without a %s in their extra: "
                "training on the default %s",
                len(events),
                self.asset.uri,
                DATA_URI,
                context["params"][DATA_URI],
            )
            return
        param = copy.deepcopy(context["dag"].params.get_param(DATA_URI))
        try:
            context["params"][DATA_URI] = param.resolve(value=uri)
        except ParamValidationError as error:
            raise AirflowFailException(
                f"the {DATA_URI} of the asset event that triggered this run ({uri!r}) is not a "
                f"purchases file this DAG accepts: {error}"
            ) from error
        log.info(
            "run triggered by new data on asset %s: %s = %s (newest of %d event(s))",
            self.asset.uri,
            DATA_URI,
            uri,
            len(events),
        )
