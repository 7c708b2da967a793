"""The champion/challenger verdict, without any registry."""

from __future__ import annotations

import math

import pytest

from mingo.promotion import GuardrailRule, PromotionPolicy, judge, refuse_incomparable
from mingo.retraining.config import shipped_policy

BINARY = shipped_policy("binary")
# The generic rules of `judge`, on a plain accuracy policy with one guardrail.
ACCURACY = PromotionPolicy(
    metric="accuracy",
    min_absolute_margin=0.005,
    min_relative_margin=0.01,
    guardrails=[GuardrailRule(metric="roc_auc", tolerance=0.01)],
)


def test_first_candidate_becomes_champion() -> None:
    verdict = judge({"accuracy": 0.61, "roc_auc": 0.7}, None, ACCURACY)
    assert verdict.promote
    assert verdict.champion_score is None
    assert "no champion" in verdict.reason


def test_equal_scores_do_not_promote() -> None:
    scores = {"accuracy": 0.9, "roc_auc": 0.8}
    verdict = judge(scores, dict(scores), ACCURACY)
    assert not verdict.promote
    assert verdict.absolute_improvement == 0.0
    assert "below the required margin" in verdict.reason


def test_win_by_absolute_margin_promotes() -> None:
    verdict = judge(
        {"accuracy": 0.906, "roc_auc": 0.8}, {"accuracy": 0.9, "roc_auc": 0.8}, ACCURACY
    )
    assert verdict.promote
    assert verdict.absolute_improvement == pytest.approx(0.006)


def test_win_by_relative_margin_alone_promotes() -> None:
    policy = PromotionPolicy(metric="accuracy", min_absolute_margin=0.5, min_relative_margin=0.1)
    verdict = judge({"accuracy": 0.23}, {"accuracy": 0.2}, policy)
    assert verdict.promote
    assert verdict.relative_improvement == pytest.approx(0.15)


def test_small_win_below_both_margins_does_not_promote() -> None:
    verdict = judge(
        {"accuracy": 0.902, "roc_auc": 0.8}, {"accuracy": 0.9, "roc_auc": 0.8}, ACCURACY
    )
    assert not verdict.promote


def test_guardrail_regression_blocks_a_winner() -> None:
    verdict = judge(
        {"accuracy": 0.95, "roc_auc": 0.70}, {"accuracy": 0.9, "roc_auc": 0.80}, ACCURACY
    )
    assert not verdict.promote
    assert "guardrail roc_auc" in verdict.reason
    failed = [check for check in verdict.guardrails if not check.passed]
    assert [check.metric for check in failed] == ["roc_auc"]
    assert failed[0].regression == pytest.approx(0.10)


def test_guardrail_within_tolerance_lets_a_winner_through() -> None:
    verdict = judge(
        {"accuracy": 0.95, "roc_auc": 0.795}, {"accuracy": 0.9, "roc_auc": 0.80}, ACCURACY
    )
    assert verdict.promote


def test_clustering_guardrail_is_lower_is_better() -> None:
    policy = shipped_policy("clustering")
    worse_separation = judge(
        {"silhouette": 0.6, "davies_bouldin": 1.2},
        {"silhouette": 0.5, "davies_bouldin": 0.9},
        policy,
    )
    assert not worse_separation.promote
    assert "davies_bouldin" in worse_separation.reason
    better = judge(
        {"silhouette": 0.6, "davies_bouldin": 0.8},
        {"silhouette": 0.5, "davies_bouldin": 0.9},
        policy,
    )
    assert better.promote


def test_lower_is_better_promotion_metric() -> None:
    policy = PromotionPolicy(
        metric="davies_bouldin", min_absolute_margin=0.05, min_relative_margin=None
    )
    assert judge({"davies_bouldin": 0.8}, {"davies_bouldin": 0.9}, policy).promote
    assert not judge({"davies_bouldin": 1.0}, {"davies_bouldin": 0.9}, policy).promote


def test_candidate_without_a_score_never_promotes_even_forced() -> None:
    verdict = judge({"accuracy": math.nan}, {"accuracy": 0.5}, ACCURACY, force=True)
    assert not verdict.promote
    assert "not a number" in verdict.reason


def test_force_promotes_a_loser_and_says_why() -> None:
    verdict = judge(
        {"accuracy": 0.5, "roc_auc": 0.5}, {"accuracy": 0.9, "roc_auc": 0.9}, ACCURACY, force=True
    )
    assert verdict.promote
    assert verdict.forced
    assert verdict.reason.startswith("forced promotion (would not have promoted")


def test_policy_rejects_negative_margin() -> None:
    with pytest.raises(ValueError, match="min_absolute_margin"):
        PromotionPolicy(metric="accuracy", min_absolute_margin=-1, min_relative_margin=None)
    with pytest.raises(ValueError, match="tolerance"):
        GuardrailRule(metric="roc_auc", tolerance=-0.1)


def test_binary_gate_is_f1_with_ranking_guardrails() -> None:
    assert BINARY.metric == "f1"
    assert {rule.metric for rule in BINARY.guardrails} == {"roc_auc", "pr_auc"}


def test_a_constant_nobody_buys_answer_cannot_win_the_binary_gate() -> None:
    # At 10% buyers, "nobody buys" scores 0.90 accuracy, more than a working model's 0.88,
    # but F1 0; a threshold above every score keeps the ranking metrics.
    working = {"accuracy": 0.88, "f1": 0.50, "roc_auc": 0.88, "pr_auc": 0.45}
    constant = {"accuracy": 0.90, "f1": 0.0, "roc_auc": 0.88, "pr_auc": 0.45}
    assert judge(constant, working, ACCURACY).promote  # what the old accuracy gate did
    verdict = judge(constant, working, BINARY)
    assert not verdict.promote
    assert "f1 0.0000 vs champion 0.5000" in verdict.reason


def test_a_floor_blocks_even_the_first_candidate() -> None:
    chance = {"f1": 0.12, "roc_auc": 0.55, "pr_auc": 0.1}
    verdict = judge(chance, None, BINARY)
    assert not verdict.promote
    assert verdict.reference == "none"
    assert "guardrail roc_auc 0.5500 is past its floor 0.6" in verdict.reason
    assert judge({**chance, "roc_auc": 0.7}, None, BINARY).promote


def test_a_lower_is_better_floor_is_a_maximum() -> None:
    policy = PromotionPolicy(
        metric="silhouette",
        min_absolute_margin=0.005,
        min_relative_margin=None,
        guardrails=[GuardrailRule(metric="davies_bouldin", tolerance=0.05, floor=2.0)],
    )
    assert not judge({"silhouette": 0.4, "davies_bouldin": 2.5}, None, policy).promote
    assert judge({"silhouette": 0.4, "davies_bouldin": 1.5}, None, policy).promote


def test_judged_against_the_baseline_the_reason_says_so() -> None:
    baseline = {"f1": 0.40, "roc_auc": 0.80, "pr_auc": 0.30}
    better = {"f1": 0.45, "roc_auc": 0.85, "pr_auc": 0.40}
    verdict = judge(better, baseline, BINARY, against="baseline")
    assert verdict.promote
    assert verdict.reference == "baseline"
    assert "beats baseline 0.4000" in verdict.reason
    assert not judge(baseline, baseline, BINARY, against="baseline").promote


def test_not_comparable_is_refused_unless_forced() -> None:
    scores = {"f1": 0.6, "roc_auc": 0.9, "pr_auc": 0.5}
    refused = refuse_incomparable(scores, ["label_window_days 7 vs champion's 30"], BINARY, False)
    assert not refused.promote
    assert refused.reason == "not comparable: label_window_days 7 vs champion's 30"
    forced = refuse_incomparable(scores, ["label_window_days 7 vs champion's 30"], BINARY, True)
    assert forced.promote and forced.forced
    assert "not comparable" in forced.reason
