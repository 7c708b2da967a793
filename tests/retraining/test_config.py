"""Pipeline configs: the shipped YAMLs own the defaults; a request applies on top, by name."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mingo.promotion import judge
from mingo.retraining.config import (
    apply_request,
    load_retraining_config,
    read_retraining_config,
    shipped_config_path,
    shipped_policy,
)
from mingo.retraining.request import RetrainRequest

CONFIGS = Path(__file__).resolve().parent / "configs"
KINDS = ["binary", "multiclass", "clustering"]


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_configs_parse_and_are_the_policy(kind: str) -> None:
    config = load_retraining_config(kind)  # type: ignore[arg-type]
    assert config.kind == kind
    assert shipped_config_path(kind).parent.name == "configs"
    assert shipped_policy(kind) == config.promotion  # type: ignore[arg-type]
    assert config.promotion.min_absolute_margin == 0.005
    assert config.promotion.min_relative_margin == 0.01


def test_a_valid_config_changes_the_verdict() -> None:
    lenient = read_retraining_config(CONFIGS / "valid_lenient.yaml").promotion
    tiny_win = ({"accuracy": 0.9001}, {"accuracy": 0.9})
    assert judge(*tiny_win, lenient).promote
    strict = lenient.model_copy(update={"min_absolute_margin": 0.005, "min_relative_margin": None})
    assert not judge(*tiny_win, strict).promote


@pytest.mark.parametrize(
    ("name", "named"),
    [
        ("invalid_margin_not_a_number.yaml", r"promotion\.min_relative_margin"),
        ("invalid_margin_above_one.yaml", r"promotion\.min_absolute_margin"),
        ("invalid_training_typo.yaml", r"training\.horizon_dayz"),
        ("invalid_no_promotion.yaml", r"promotion"),
    ],
)
def test_an_invalid_config_names_the_field_and_the_file(name: str, named: str) -> None:
    path = CONFIGS / name
    with pytest.raises(ValueError, match=named) as error:
        read_retraining_config(path)
    assert str(path) in str(error.value)


def test_a_config_for_another_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="is for kind 'binary', not 'clustering'"):
        load_retraining_config("clustering", CONFIGS / "valid_lenient.yaml")


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("binary", "horizon_days"),
        ("multiclass", "route_window_days"),
        ("clustering", "horizon_days"),
    ],
)
def test_horizon_has_one_meaning_per_kind(kind: str, field: str) -> None:
    request = RetrainRequest(kind=kind, horizon_days=7)  # type: ignore[arg-type]
    applied = apply_request(load_retraining_config(kind), request)  # type: ignore[arg-type]
    assert getattr(applied.model_config_for_training(), field) == 7


def test_the_request_margin_is_the_only_margin() -> None:
    request = RetrainRequest(kind="binary", min_absolute_margin=0.05, cutoff=date(2024, 1, 1))
    applied = apply_request(load_retraining_config("binary"), request)
    assert applied.promotion.min_absolute_margin == 0.05
    assert applied.promotion.min_relative_margin is None
    assert applied.model_config_for_training().cutoff == date(2024, 1, 1)
    # +0.03 on 0.2 is 15% relative: enough for the shipped margins, not for 0.05 absolute.
    scores = {"f1": 0.23, "roc_auc": 0.8, "pr_auc": 0.3}
    champion = {"f1": 0.2, "roc_auc": 0.8, "pr_auc": 0.3}
    assert judge(scores, champion, shipped_policy("binary")).promote
    verdict = judge(scores, champion, applied.promotion)
    assert not verdict.promote
    assert "(0.05 absolute)" in verdict.reason
    assert verdict.min_absolute_margin == 0.05 and verdict.min_relative_margin is None


def test_an_unset_request_changes_nothing() -> None:
    config = load_retraining_config("multiclass")
    assert apply_request(config, RetrainRequest(kind="multiclass")) == config
