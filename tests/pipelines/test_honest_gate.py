"""The gate on real retrainings (mingo.retraining stages, embedded MLflow, no ZenML).

One registry for the module: a working binary champion is trained and promoted first; then
candidates that must not win (a threshold above every score, a 7-day target against the
30-day champion) and champions that cannot be scored (an older feature schema, an artifact
gone) each end in the documented decision, recorded on the version.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from mingo.config import load_settings
from mingo.models import api as models
from mingo.models.target import FEATURE_SCHEMA_KEY
from mingo.promotion import promote_version
from mingo.registry import CHAMPION, get_alias_version, get_version_tags
from mingo.report import report_path
from mingo.retraining import stages
from mingo.retraining.config import apply_request, load_retraining_config
from mingo.retraining.decision import Decision
from mingo.retraining.request import RetrainRequest
from mingo.retraining.runner import RetrainingPlan, judge_candidate
from mingo.tracking import mlflow_client
from tests.pipelines.conftest import small_purchases

DATA_URI = "generated.csv"


@dataclass(frozen=True)
class Trained:
    plan: RetrainingPlan
    train: models.Dataset
    holdout: models.Dataset
    model: models.TrainedModel


def train(purchases: pd.DataFrame, horizon_days: int | None = None) -> Trained:
    request = RetrainRequest(kind="binary", data_uri=DATA_URI, horizon_days=horizon_days)
    config = apply_request(load_retraining_config("binary"), request)
    plan = RetrainingPlan(request=request, config=config, data_uri=DATA_URI)
    training = config.model_config_for_training()
    train_set, holdout = models.build_datasets(purchases, training)
    return Trained(plan, train_set, holdout, models.fit(train_set, training))


def judge(
    trained: Trained, model: models.TrainedModel | None = None, force: bool = False
) -> Decision:
    """What a retraining does with a trained candidate (this one, or `model` in its place)."""
    request = trained.plan.request.model_copy(update={"force_promote": force})
    plan = trained.plan.model_copy(update={"request": request})
    identity = stages.identify_data(DATA_URI, small_purchases_cached())
    return judge_candidate(
        model or trained.model, trained.train, trained.holdout, identity, plan, load_settings()
    )


_PURCHASES: list[pd.DataFrame] = []


def small_purchases_cached() -> pd.DataFrame:
    if not _PURCHASES:
        _PURCHASES.append(small_purchases())
    return _PURCHASES[0]


@dataclass(frozen=True)
class Registry:
    home: Path
    working: Trained
    champion: str


@pytest.fixture(scope="module")
def registry_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    home = tmp_path_factory.mktemp("gate-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINGO_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        working = train(small_purchases_cached())
        first = judge(working)
        assert first.promoted, first.reason
        assert first.champion_version_after is not None
        yield Registry(home, working, first.champion_version_after)


@pytest.fixture
def registry(registry_home: Registry, monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.setenv("MINGO_HOME", str(registry_home.home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    # Each test starts from the working champion.
    client = mlflow_client(load_settings())
    current = get_alias_version(client, "binary", CHAMPION)
    if current != registry_home.champion:
        promote_version(client, "binary", registry_home.champion, expected_champion=current)
    return registry_home


def champion() -> str | None:
    return get_alias_version(mlflow_client(load_settings()), "binary", CHAMPION)


def test_a_threshold_above_every_score_is_not_promoted_over_a_working_champion(
    registry: Registry,
) -> None:
    working = registry.working
    scores = working.model.estimator.predict_proba(working.holdout.features)[:, 1]
    degenerate = models.TrainedModel(
        kind="binary",
        estimator=working.model.estimator,
        metadata={**working.model.metadata, "threshold": float(scores.max()) + 0.01},
    )
    decision = judge(working, degenerate)

    # It answers "will not buy" for everyone: the ranking is intact, the served answer is not.
    assert decision.candidate_metrics["f1"] == 0.0
    assert decision.candidate_metrics["balanced_accuracy"] == 0.5
    positive_rate = float(working.holdout.labels.mean())  # type: ignore[union-attr]
    assert decision.candidate_metrics["accuracy"] == pytest.approx(1 - positive_rate)
    working_scores = models.score(working.model, working.holdout)
    assert decision.candidate_metrics["roc_auc"] == working_scores["roc_auc"]
    assert decision.candidate_metrics["pr_auc"] == working_scores["pr_auc"]
    assert not decision.promoted
    assert decision.metric == "f1"
    assert decision.champion_status == "scored"
    assert decision.champion_score is not None and decision.champion_score > 0.5
    assert "below the required margin" in decision.reason
    assert champion() == registry.champion


def test_a_seven_day_candidate_is_not_comparable_with_the_thirty_day_champion(
    registry: Registry,
) -> None:
    seven_days = train(small_purchases_cached(), horizon_days=7)
    decision = judge(seven_days)

    assert not decision.promoted
    assert decision.champion_status == "not_comparable"
    assert decision.reason == "not comparable: label_window_days 7 vs champion's 30"
    assert decision.champion_score is None
    assert decision.candidate_target.label_window_days == 7
    assert decision.champion_target is not None
    assert decision.champion_target.label_window_days == 30
    assert champion() == registry.champion
    tags = get_version_tags(
        mlflow_client(load_settings()), "binary", str(decision.candidate_version)
    )
    assert tags["mingo.decision.champion_status"] == "not_comparable"
    assert tags["mingo.decision.reason"] == decision.reason
    assert tags["mingo.target.label_window_days"] == "7"

    forced = judge(seven_days, force=True)
    assert forced.promoted and forced.forced
    assert forced.reason.startswith("forced promotion (would not have promoted: not comparable")
    assert champion() == forced.candidate_version


def expected_against_baseline(decision: Decision) -> bool:
    """The policy's rule, applied by hand to the candidate and baseline numbers."""
    cand = decision.candidate_metrics
    base = decision.baseline_metrics
    gain = cand["f1"] - base["f1"]
    wins = gain > 0 and (gain >= 0.005 or gain / base["f1"] >= 0.01)
    return (
        wins
        and cand["roc_auc"] >= 0.6
        and base["roc_auc"] - cand["roc_auc"] <= 0.01
        and base["pr_auc"] - cand["pr_auc"] <= 0.02
    )


def register_champion(model: models.TrainedModel, trained: Trained) -> str:
    decision = judge(trained, model, force=True)
    assert decision.promoted and decision.candidate_version is not None
    return decision.candidate_version


def test_a_champion_of_an_older_feature_schema_is_unscorable_and_the_baseline_judges(
    registry: Registry,
) -> None:
    working = registry.working
    older = models.TrainedModel(
        kind="binary",
        estimator=working.model.estimator,
        metadata={**working.model.metadata, FEATURE_SCHEMA_KEY: 0},
    )
    old_champion = register_champion(older, working)
    assert champion() == old_champion

    decision = judge(working)

    assert decision.champion_status == "unscorable"
    assert decision.judged_against == "baseline"
    assert decision.reason.startswith(
        f"champion unscorable: version {old_champion} needs feature schema 0, "
        "this code computes 1; judged against the naive baseline instead: "
    )
    assert decision.champion_score is None
    assert decision.absolute_improvement == pytest.approx(
        decision.candidate_metrics["f1"] - decision.baseline_metrics["f1"]
    )
    assert decision.promoted == expected_against_baseline(decision)
    page = report_path(decision, load_settings().home).read_text()
    assert "Champion: could not be loaded or scored; judged against the baseline." in page
    assert champion() == (decision.candidate_version if decision.promoted else old_champion)


def test_a_champion_whose_artifact_is_gone_is_unscorable_and_a_rerun_recovers(
    registry: Registry,
) -> None:
    working = registry.working
    lost = register_champion(working.model, working)
    source = mlflow_client(load_settings()).get_model_version("mingo-binary", lost).source
    model_id = source.removeprefix("models:/")
    artifacts = mlflow.get_logged_model(model_id).artifact_location
    shutil.rmtree(artifacts.removeprefix("file://"))

    decision = judge(working)

    assert decision.champion_status == "unscorable"
    assert decision.reason.startswith(f"champion unscorable: version {lost} cannot be loaded: ")
    assert decision.promoted == expected_against_baseline(decision)
    if not decision.promoted:
        # Forcing gets past an unscorable champion: nothing needs a person in the registry.
        forced = judge(working, force=True)
        assert forced.promoted and forced.champion_status == "unscorable"
    assert champion() != lost
