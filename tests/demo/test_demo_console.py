"""What the demo prints about a scheduled run's decisions: promote or keep, and why."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

from rich.console import Console

from mingo.cli.demo import console as show
from mingo.registry import RecordedData, RecordedDecision


def decision(model: str, promoted: bool, reason: str, before: str | None) -> RecordedDecision:
    """A decision as `mingo.registry.read_decision` hands it to the demo."""
    fields: dict[str, Any] = {
        "model": model,
        "candidate_version": "2" if before else "1",
        "champion_version_before": before,
        "champion_version_after": ("2" if before else "1") if promoted else before,
        "promoted": promoted,
        "metric": "accuracy",
        "candidate_score": 0.71,
        "champion_score": 0.69 if before else None,
        "reason": reason,
        "champion_status": "scored" if before else "none",
        "judged_against": "champion" if before else "none",
        "min_absolute_margin": 0.005,
        "min_relative_margin": 0.01,
        "data": RecordedData(uri="x.csv", rows=10, sha256="0" * 64, cutoff=date(2024, 3, 1)),
        "decided_at": datetime(2024, 4, 1, tzinfo=UTC),
    }
    return RecordedDecision.model_validate(fields)


def rendered(*renderables: object) -> str:
    console = Console(record=True, width=200, file=io.StringIO())
    for renderable in renderables:
        console.print(renderable)
    return console.export_text()


def test_second_run_shows_which_model_was_promoted_or_kept_and_why() -> None:
    decisions = [
        decision("mingo-binary", False, "accuracy 0.7100 vs champion 0.7300: below margin", "1"),
        decision("mingo-multiclass", True, "accuracy 0.7100 beats champion 0.6900", "1"),
        decision("mingo-clustering", True, "no champion yet", None),
    ]
    text = rendered(show.decisions_table("Run 2", decisions), show.decision_reasons(decisions))
    lines = {line.split("│")[1].strip(): line for line in text.splitlines() if "│ mingo-" in line}
    assert "v1 kept" in lines["mingo-binary"] and "kept" in lines["mingo-binary"]
    assert "v1 -> v2" in lines["mingo-multiclass"] and "promoted" in lines["mingo-multiclass"]
    assert "none -> v1" in lines["mingo-clustering"]
    assert "0.6900" in lines["mingo-multiclass"] and "0.7100" in lines["mingo-multiclass"]
    assert "  mingo-binary: accuracy 0.7100 vs champion 0.7300: below margin" in text
    assert "  mingo-multiclass: accuracy 0.7100 beats champion 0.6900" in text
