"""The services' settings come from `mingo.config.Settings`, read from the environment once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bento_services.prediction_service import build_prediction_service
from mingo.config import (
    DEFAULT_CHAMPION_POLL_SECONDS,
    DEFAULT_SERVICE_WORKERS,
    DEFAULT_THREADS_PER_WORKER,
    SettingsError,
    load_settings,
)


def test_service_variables_are_read_by_load_settings(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "MINGO_HOME": str(tmp_path),
            "MINGO_CHAMPION_POLL_SECONDS": "2.5",
            "MINGO_SERVICE_WORKERS": "3",
            "OMP_NUM_THREADS": "2",
        }
    )
    assert settings.champion_poll_seconds == 2.5
    assert settings.service_workers == 3
    assert settings.threads_per_worker == 2


def test_service_variables_default_when_unset_or_empty(tmp_path: Path) -> None:
    for environ in ({}, {"MINGO_SERVICE_WORKERS": "", "OMP_NUM_THREADS": ""}):
        settings = load_settings({"MINGO_HOME": str(tmp_path), **environ})
        assert settings.champion_poll_seconds == DEFAULT_CHAMPION_POLL_SECONDS == 10.0
        assert settings.service_workers == DEFAULT_SERVICE_WORKERS == 1
        assert settings.threads_per_worker == DEFAULT_THREADS_PER_WORKER == 1


@pytest.mark.parametrize(
    ("variable", "field"),
    [
        ("MINGO_CHAMPION_POLL_SECONDS", "champion_poll_seconds"),
        ("MINGO_SERVICE_WORKERS", "service_workers"),
        ("OMP_NUM_THREADS", "threads_per_worker"),
    ],
)
def test_a_service_variable_below_its_bound_is_refused(
    variable: str, field: str, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match=field):
        load_settings({"MINGO_HOME": str(tmp_path), variable: "0"})


def test_the_service_takes_its_workers_and_api_key_from_the_settings_it_is_given(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        {"MINGO_HOME": str(tmp_path), "MINGO_SERVICE_WORKERS": "3", "MINGO_API_KEY": "k"}
    )
    service = build_prediction_service("clustering", settings)
    assert service.config["workers"] == 3
    guards = {cls.__name__: options for cls, options in service.middlewares}
    assert guards["RequestGuard"] == {"api_key": "k", "max_in_flight": 4}
    assert list(guards) == ["ClientErrorLog", "RequestGuard"]  # the log sees the guard's 4xx


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"MINGO_API_KEY": "k"}, "k"),
        ({"MINGO_AUTH": "api-key", "MINGO_API_KEY": "k"}, "k"),
        ({"MINGO_AUTH": "none"}, None),
        ({"MINGO_AUTH": "none", "MINGO_API_KEY": ""}, None),
        ({}, None),  # the local default: no key, no authentication (one WARNING at start)
    ],
)
def test_the_services_authentication_rule(
    environ: dict[str, str], key: str | None, tmp_path: Path
) -> None:
    assert load_settings({"MINGO_HOME": str(tmp_path), **environ}).service_api_key() == key


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"MINGO_API_KEY": ""},
            "MINGO_API_KEY is empty: set a key, or MINGO_AUTH=none to serve without authentication",
        ),
        ({"MINGO_AUTH": "api-key"}, "MINGO_AUTH=api-key requires a non-empty MINGO_API_KEY"),
        ({"MINGO_AUTH": "api-key", "MINGO_API_KEY": ""}, "requires a non-empty MINGO_API_KEY"),
        ({"MINGO_AUTH": "none", "MINGO_API_KEY": "k"}, "MINGO_AUTH=none contradicts"),
        ({"MINGO_AUTH": "basic"}, "MINGO_AUTH='basic' is not one of api-key, none"),
    ],
)
def test_settings_that_would_turn_authentication_off_by_accident_are_refused(
    environ: dict[str, str], message: str, tmp_path: Path
) -> None:
    settings = load_settings({"MINGO_HOME": str(tmp_path), **environ})
    with pytest.raises(SettingsError, match=re.escape(message)):
        settings.service_api_key()
    with pytest.raises(SettingsError, match=re.escape(message)):
        build_prediction_service("binary", settings)
