"""Moving `champion` / `previous` in a real registry: order, concurrency check, rollback."""

from __future__ import annotations

import pytest

import mingo.promotion
from mingo.config import load_settings
from mingo.promotion import (
    REPLACED_VERSION_TAG,
    ChampionMovedError,
    promote_version,
    rollback,
)
from mingo.registry import CHAMPION, PREVIOUS, get_alias_version, get_version_tags, set_alias
from mingo.tracking import mlflow_client
from tests.registry.conftest import RegisteredVersions


def aliases() -> tuple[str | None, str | None]:
    client = mlflow_client(load_settings())
    return (
        get_alias_version(client, "binary", CHAMPION),
        get_alias_version(client, "binary", PREVIOUS),
    )


def test_first_promotion_sets_champion_without_previous(registry: RegisteredVersions) -> None:
    promote_version(mlflow_client(load_settings()), "binary", "1", expected_champion=None)
    assert aliases() == ("1", None)


def test_promotion_keeps_the_old_champion_as_previous(registry: RegisteredVersions) -> None:
    client = mlflow_client(load_settings())
    promote_version(client, "binary", "1", expected_champion=None)
    promote_version(client, "binary", "2", expected_champion="1")
    assert aliases() == ("2", "1")
    assert get_version_tags(client, "binary", "2")[REPLACED_VERSION_TAG] == "1"


def test_champion_moved_since_read_stops_the_promotion(registry: RegisteredVersions) -> None:
    client = mlflow_client(load_settings())
    promote_version(client, "binary", "1", expected_champion=None)
    # Another retraining promoted version 3 after this one read champion 1.
    set_alias(client, "binary", CHAMPION, "3")
    with pytest.raises(ChampionMovedError, match="moved from version 1 to 3"):
        promote_version(client, "binary", "2", expected_champion="1")
    assert aliases() == ("3", None)


def test_crash_between_previous_and_champion_keeps_serving_the_old_champion(
    registry: RegisteredVersions, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = mlflow_client(load_settings())
    promote_version(client, "binary", "1", expected_champion=None)
    real_set_alias = mingo.promotion.set_alias

    def die_on_champion_write(client_, kind, alias, version):  # type: ignore[no-untyped-def]
        if alias == CHAMPION:
            raise KeyboardInterrupt("process killed")
        real_set_alias(client_, kind, alias, version)

    monkeypatch.setattr(mingo.promotion, "set_alias", die_on_champion_write)
    with pytest.raises(KeyboardInterrupt):
        promote_version(client, "binary", "2", expected_champion="1")
    monkeypatch.undo()
    monkeypatch.setenv("MINGO_HOME", str(registry.home))
    assert aliases() == ("1", "1")
    # The next promotion proceeds from that state.
    promote_version(mlflow_client(load_settings()), "binary", "2", expected_champion="1")
    assert aliases() == ("2", "1")


def test_rollback_walks_back_through_promotions(registry: RegisteredVersions) -> None:
    client = mlflow_client(load_settings())
    promote_version(client, "binary", "1", expected_champion=None)
    promote_version(client, "binary", "2", expected_champion="1")
    promote_version(client, "binary", "3", expected_champion="2")
    assert aliases() == ("3", "2")
    assert rollback(client, "binary") == ("3", "2")
    assert aliases() == ("2", "1")
    assert rollback(client, "binary") == ("2", "1")
    assert aliases() == ("1", None)
    with pytest.raises(LookupError, match="no previous version"):
        rollback(client, "binary")
    assert aliases() == ("1", None)


def test_rollback_without_champion_says_so(registry: RegisteredVersions) -> None:
    with pytest.raises(LookupError, match="has no champion"):
        rollback(mlflow_client(load_settings()), "binary")


def test_rollback_of_a_version_that_is_no_longer_champion_writes_nothing(
    registry: RegisteredVersions,
) -> None:
    client = mlflow_client(load_settings())
    promote_version(client, "binary", "1", expected_champion=None)
    promote_version(client, "binary", "2", expected_champion="1")
    promote_version(client, "binary", "3", expected_champion="2")
    with pytest.raises(ChampionMovedError, match="moved from version 2 to 3"):
        rollback(client, "binary", expected_champion="2")
    assert aliases() == ("3", "2")


def test_a_promotion_landing_during_a_rollback_is_not_rolled_back(
    registry: RegisteredVersions, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = mlflow_client(load_settings())
    promote_version(client, "binary", "1", expected_champion=None)
    promote_version(client, "binary", "2", expected_champion="1")
    real_tags = mingo.promotion.get_version_tags

    def another_run_promotes_meanwhile(client_, kind, version):  # type: ignore[no-untyped-def]
        # Between the rollback's read of the aliases and its write, another run promotes 3.
        monkeypatch.setattr(mingo.promotion, "get_version_tags", real_tags)
        promote_version(client_, kind, "3", expected_champion="2")
        return real_tags(client_, kind, version)

    monkeypatch.setattr(mingo.promotion, "get_version_tags", another_run_promotes_meanwhile)
    with pytest.raises(ChampionMovedError):
        rollback(client, "binary", expected_champion="2")
    assert aliases() == ("3", "2")
