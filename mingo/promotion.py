"""Champion/challenger: judge a candidate against the champion and move the aliases.

Judging (`judge`) is pure: it compares two metric dicts under a `PromotionPolicy`. The
candidate wins when it beats the champion on the policy's metric by at least the absolute
margin OR the relative margin, and no guardrail metric regresses past its tolerance. With
no champion, any candidate whose promotion metric is a number wins.

Alias moves (`promote_version`, `rollback`) keep this invariant, so a crash between any two
registry writes leaves a registry that serves a version that was once judged fit:

    `champion` only ever moves to a version in one write, and `previous` is written BEFORE
    `champion`. A crash after `previous` and before `champion` leaves previous == champion
    (serving unchanged, rollback a no-op); the next promotion overwrites `previous`.

Concurrency: two retrainings of one KIND must not both move `champion`. On one machine a
file lock (`mingo.retraining_lock`) serialises them. Across machines the registry
is checked: the champion version read at comparison time is re-read right before each alias
write, and if it moved the promotion stops with `ChampionMovedError` (MLflow has no
compare-and-set, so a tiny window remains between the last read and the write).

Every promoted version is tagged with the version it replaced (`mingo.replaced_version`), so
`rollback` can walk back: champion <- previous, and previous <- the version that `previous`
itself replaced when it was promoted (or no `previous` alias when there is none).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from mingo import ModelKind, registered_model_name
from mingo.registry import (
    CHAMPION,
    PREVIOUS,
    delete_alias,
    get_alias_version,
    get_version_tags,
    set_alias,
    set_version_tags,
)
from mingo.retraining.request import Margin

if TYPE_CHECKING:
    from mlflow import MlflowClient

REPLACED_VERSION_TAG = "mingo.replaced_version"

# Metrics where a smaller value is better; every other contract metric is higher-is-better.
LOWER_IS_BETTER = frozenset({"davies_bouldin"})

# What the candidate was judged against: the champion re-scored on the same holdout, or, when
# the champion cannot be scored, the naive baseline on that holdout; none for the first model.
Reference = Literal["champion", "baseline", "none"]


class ChampionMovedError(RuntimeError):
    """The champion alias moved after this run read it: another promotion happened."""


class GuardrailRule(BaseModel):
    """A metric the candidate may not make worse than the reference's by more than tolerance,
    nor worse than an absolute floor (checked even when there is nothing to compare with)."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    tolerance: float = Field(ge=0.0, description="Largest allowed regression (absolute).")
    floor: float | None = Field(
        default=None,
        description="Worst value accepted whatever the reference: a minimum, or a maximum for "
        "a lower-is-better metric. None: no floor.",
    )


class PromotionPolicy(BaseModel):
    """When a candidate replaces the champion (per KIND in mingo/retraining/configs/*.yaml)."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    min_absolute_margin: Margin = Field(
        description="Smallest absolute improvement of `metric` that promotes."
    )
    min_relative_margin: Margin | None = Field(
        description="Smallest improvement relative to the reference's score that promotes; "
        "None: only the absolute margin counts."
    )
    guardrails: list[GuardrailRule] = Field(default_factory=list)


class GuardrailCheck(BaseModel):
    metric: str
    candidate: float | None
    champion: float | None = Field(description="The reference's value (champion or baseline).")
    regression: float | None
    tolerance: float
    floor: float | None = None
    passed: bool


class Verdict(BaseModel):
    """The outcome of judging one candidate (what the decision JSON reports)."""

    promote: bool
    forced: bool
    reason: str
    reference: Reference
    metric: str
    candidate_score: float | None
    champion_score: float | None
    absolute_improvement: float | None
    relative_improvement: float | None
    min_absolute_margin: float
    min_relative_margin: float | None
    guardrails: list[GuardrailCheck]


def _number(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return float(value)


def improvement(metric: str, candidate: float, champion: float) -> float:
    """How much better the candidate is (positive = better), whatever the metric's direction."""
    return champion - candidate if metric in LOWER_IS_BETTER else candidate - champion


def _check_guardrail(
    rule: GuardrailRule, candidate: dict[str, float], reference: dict[str, float]
) -> GuardrailCheck:
    cand = _number(candidate.get(rule.metric))
    ref = _number(reference.get(rule.metric))
    regression = None if cand is None or ref is None else -improvement(rule.metric, cand, ref)
    if cand is None:
        passed = ref is None and rule.floor is None  # nothing to check it against
    else:
        within_tolerance = regression is None or regression <= rule.tolerance
        above_floor = rule.floor is None or improvement(rule.metric, cand, rule.floor) >= 0
        passed = within_tolerance and above_floor
    return GuardrailCheck(
        metric=rule.metric,
        candidate=cand,
        champion=ref,
        regression=regression,
        tolerance=rule.tolerance,
        floor=rule.floor,
        passed=passed,
    )


def _failure(check: GuardrailCheck, against: str) -> str:
    if check.floor is not None and (
        check.candidate is None or improvement(check.metric, check.candidate, check.floor) < 0
    ):
        return f"guardrail {check.metric} {_fmt(check.candidate)} is past its floor {check.floor}"
    return (
        f"guardrail {check.metric} regressed: candidate {_fmt(check.candidate)} vs {against} "
        f"{_fmt(check.champion)} (tolerance {check.tolerance})"
    )


def judge(
    candidate: dict[str, float],
    champion: dict[str, float] | None,
    policy: PromotionPolicy,
    force: bool = False,
    against: Reference = "champion",
) -> Verdict:
    """Decide whether `candidate` replaces the champion.

    `champion` holds the reference's metrics on the candidate's holdout: the champion's
    (`against="champion"`), the naive baseline's when the champion cannot be scored
    (`against="baseline"`), or None when there is no champion. Floors apply in every case.
    """
    metric = policy.metric
    reference = "none" if champion is None else against
    cand = _number(candidate.get(metric))
    champ = _number(champion.get(metric)) if champion is not None else None
    checks = [_check_guardrail(rule, candidate, champion or {}) for rule in policy.guardrails]
    failed = [c for c in checks if not c.passed]
    absolute: float | None = None
    relative: float | None = None

    if cand is None:
        promote = False
        reason = f"candidate's {metric} is missing or not a number"
    elif champ is None and failed:
        promote = False
        reason = "; ".join(_failure(c, reference) for c in failed)
    elif champion is None:
        promote = True
        reason = "no champion yet: the first valid candidate becomes champion"
    elif champ is None:
        promote = True
        reason = f"{against}'s {metric} is not a number on this holdout; candidate's is {cand:.4f}"
    else:
        absolute = improvement(metric, cand, champ)
        relative = absolute / abs(champ) if champ != 0 else None
        wins_absolute = absolute > 0 and absolute >= policy.min_absolute_margin
        wins_relative = (
            absolute > 0
            and relative is not None
            and policy.min_relative_margin is not None
            and relative >= policy.min_relative_margin
        )
        if not (wins_absolute or wins_relative):
            promote = False
            reason = (
                f"{metric} {cand:.4f} vs {against} {champ:.4f}: improvement {absolute:+.4f} "
                f"(relative {_percent(relative)}) is below the required margin "
                f"({_required_margin(policy)})"
            )
        elif failed:
            promote = False
            reason = "; ".join(_failure(c, against) for c in failed)
        else:
            promote = True
            reason = (
                f"{metric} {cand:.4f} beats {against} {champ:.4f} by {absolute:+.4f} "
                f"(relative {_percent(relative)}); guardrails hold"
            )
    return _verdict(
        promote,
        reason,
        policy,
        force,
        reference=reference,
        candidate_score=cand,
        champion_score=champ,
        absolute_improvement=absolute,
        relative_improvement=relative,
        guardrails=checks,
    )


def refuse_incomparable(
    candidate: dict[str, float], differences: list[str], policy: PromotionPolicy, force: bool
) -> Verdict:
    """The verdict when candidate and champion answer different questions: no score decides."""
    return _verdict(
        False,
        f"not comparable: {'; '.join(differences)}",
        policy,
        force,
        reference="champion",
        candidate_score=_number(candidate.get(policy.metric)),
        champion_score=None,
        absolute_improvement=None,
        relative_improvement=None,
        guardrails=[],
    )


def _verdict(
    promote: bool,
    reason: str,
    policy: PromotionPolicy,
    force: bool,
    *,
    reference: Reference,
    candidate_score: float | None,
    champion_score: float | None,
    absolute_improvement: float | None,
    relative_improvement: float | None,
    guardrails: list[GuardrailCheck],
) -> Verdict:
    forced = False
    if force and not promote:
        if candidate_score is None:
            reason = f"not forced: {reason}"
        else:
            promote = True
            forced = True
            reason = f"forced promotion (would not have promoted: {reason})"
    elif force:
        reason = f"forced promotion; it would have promoted anyway: {reason}"
        forced = True
    return Verdict(
        promote=promote,
        forced=forced,
        reason=reason,
        reference=reference,
        metric=policy.metric,
        candidate_score=candidate_score,
        champion_score=champion_score,
        absolute_improvement=absolute_improvement,
        relative_improvement=relative_improvement,
        min_absolute_margin=policy.min_absolute_margin,
        min_relative_margin=policy.min_relative_margin,
        guardrails=guardrails,
    )


def _required_margin(policy: PromotionPolicy) -> str:
    if policy.min_relative_margin is None:
        return f"{policy.min_absolute_margin} absolute"
    return f"{policy.min_absolute_margin} absolute or {policy.min_relative_margin:.1%} relative"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2%}"


def _ensure_champion_is(client: MlflowClient, kind: ModelKind, expected: str | None) -> None:
    current = get_alias_version(client, kind, CHAMPION)
    if current != expected:
        raise ChampionMovedError(
            f"the champion of {registered_model_name(kind)} moved from version {expected} to "
            f"{current} while this run was judging; another promotion won, this one stops"
        )


def promote_version(
    client: MlflowClient, kind: ModelKind, version: str, expected_champion: str | None
) -> None:
    """Make `version` the champion, the old champion `previous` (see the module invariant).

    `expected_champion` is the champion this caller judged against; if the registry now says
    otherwise, nothing is written and `ChampionMovedError` is raised.
    """
    _ensure_champion_is(client, kind, expected_champion)
    if expected_champion == version:
        return
    if expected_champion is not None:
        set_version_tags(client, kind, version, {REPLACED_VERSION_TAG: expected_champion})
        set_alias(client, kind, PREVIOUS, expected_champion)
    _ensure_champion_is(client, kind, expected_champion)
    set_alias(client, kind, CHAMPION, version)


def rollback(
    client: MlflowClient, kind: ModelKind, expected_champion: str | None = None
) -> tuple[str, str]:
    """champion <- previous; previous <- the version `previous` had replaced (or removed).

    Returns (old champion, new champion). Raises LookupError when there is nothing to roll
    back to. With `expected_champion` (the version a caller means to undo), nothing is
    written and `ChampionMovedError` is raised when another version is champion by then: a
    promotion that lands meanwhile is not rolled back by mistake.
    """
    name = registered_model_name(kind)
    champion = get_alias_version(client, kind, CHAMPION)
    previous = get_alias_version(client, kind, PREVIOUS)
    if champion is None:
        raise LookupError(f"{name} has no champion: nothing to roll back")
    if expected_champion is not None:
        _ensure_champion_is(client, kind, expected_champion)
    if previous is None or previous == champion:
        raise LookupError(
            f"{name} has no previous version distinct from champion {champion}: "
            "nothing to roll back to"
        )
    before_previous = get_version_tags(client, kind, previous).get(REPLACED_VERSION_TAG)
    if expected_champion is not None:
        _ensure_champion_is(client, kind, expected_champion)
    # Same order as a promotion: `champion` moves in one write, `previous` is settled after,
    # so a crash in between leaves previous == champion (serving the rollback target).
    set_alias(client, kind, CHAMPION, previous)
    if before_previous is not None and before_previous != previous:
        set_alias(client, kind, PREVIOUS, before_previous)
    else:
        delete_alias(client, kind, PREVIOUS)
    return champion, previous
