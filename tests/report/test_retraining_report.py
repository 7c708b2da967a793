"""The retraining report, built from real retrainings (mingo.retraining stages, embedded MLflow).

Two retrainings of the binary model: the first has no champion and is promoted, the second,
on a customer-shuffled copy of the data, is judged against that champion re-scored on the
same holdout. The reports are read back from MLflow, not only from the renderer.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from mingo.config import load_settings
from mingo.data.generate import generate_purchases
from mingo.models import api as models
from mingo.registry import CHAMPION, get_alias_version, load_model
from mingo.report import (
    REPORT_ARTIFACT,
    render_retraining_report,
    report_path,
)
from mingo.retraining import stages
from mingo.retraining.config import apply_request, load_retraining_config
from mingo.retraining.decision import Decision
from mingo.retraining.request import RetrainRequest
from mingo.retraining.runner import RetrainingPlan, judge_candidate
from mingo.tracking import mlflow_client

CUSTOMERS = 800
SEED = 11


@dataclass(frozen=True)
class Retraining:
    decision: Decision
    champion_metrics: dict[str, float] | None
    report: Path | None


def retrain(purchases: pd.DataFrame, uri: str) -> Retraining:
    settings = load_settings()
    request = RetrainRequest(kind="binary", data_uri=uri)
    plan = RetrainingPlan(
        request=request,
        config=apply_request(load_retraining_config("binary"), request),
        data_uri=uri,
    )
    training = plan.config.model_config_for_training()
    train, holdout = models.build_datasets(purchases, training)
    identity = stages.identify_data(uri, purchases, cutoff=holdout.cutoff)
    champion = get_alias_version(mlflow_client(settings), "binary", CHAMPION)
    champion_metrics = None
    if champion is not None:
        champion_metrics = models.score(load_model("binary", champion), holdout)
    # The decision records itself, then writes and logs the report.
    decision = judge_candidate(
        models.fit(train, training), train, holdout, identity, plan, settings
    )
    path = report_path(decision, settings.home)
    return Retraining(decision, champion_metrics, path if path.exists() else None)


@dataclass(frozen=True)
class TwoRetrainings:
    home: Path
    first: Retraining
    second: Retraining


@pytest.fixture(scope="module")
def two_retrainings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoRetrainings]:
    home = tmp_path_factory.mktemp("report-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINGO_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        purchases = generate_purchases(CUSTOMERS, SEED)
        shuffled = purchases.copy()
        rng = np.random.default_rng(0)
        shuffled["fk_contact"] = rng.permutation(shuffled["fk_contact"].to_numpy())
        first = retrain(purchases, "memory://first.csv")
        second = retrain(shuffled, "memory://shuffled.csv")
    yield TwoRetrainings(home, first, second)


@pytest.fixture
def retrainings(two_retrainings: TwoRetrainings, monkeypatch: pytest.MonkeyPatch) -> TwoRetrainings:
    # Each test gets its own MINGO_HOME (tests/conftest.py): point it back at the registry.
    monkeypatch.setenv("MINGO_HOME", str(two_retrainings.home))
    return two_retrainings


def logged_report(decision: Decision) -> str:
    assert decision.mlflow_run_id is not None
    client = mlflow_client(load_settings())
    names = [item.path for item in client.list_artifacts(decision.mlflow_run_id)]
    assert REPORT_ARTIFACT in names, names
    text: str = mlflow.artifacts.load_text(
        f"{client.get_run(decision.mlflow_run_id).info.artifact_uri}/{REPORT_ARTIFACT}"
    )
    return text


def table_row(page: str, metric: str) -> list[str]:
    match = re.search(rf"<tr[^>]*><td>{metric} <small>.*?</tr>", page)
    assert match, f"no row for {metric}"
    return re.findall(r"<td>(.*?)</td>", match.group(0))[1:]


def test_first_retraining_report_says_promoted_without_champion(
    retrainings: TwoRetrainings,
) -> None:
    first = retrainings.first
    assert first.report is not None and first.report.exists()
    page = logged_report(first.decision)
    assert page == first.report.read_text()
    assert "Promoted: version 1 is the champion now" in page
    assert "champion (none yet)" in page
    assert first.decision.data.sha256 in page
    assert f"{first.decision.data.rows:,}" in page
    assert first.decision.data.cutoff is not None
    assert first.decision.data.cutoff.isoformat() in page
    accuracy = table_row(page, "accuracy")
    assert accuracy[0] == f"{first.decision.candidate_metrics['accuracy']:.4f}"
    assert accuracy[1] == "&ndash;"


def test_second_retraining_report_compares_both_on_same_holdout(
    retrainings: TwoRetrainings,
) -> None:
    second = retrainings.second
    assert second.report is not None
    assert second.report.parent == retrainings.home / "reports"
    page = logged_report(second.decision)
    decision = second.decision
    assert decision.champion_version_before == "1"
    assert second.champion_metrics is not None
    for metric in ("accuracy", "roc_auc", "pr_auc", "f1"):
        candidate_cell, champion_cell, baseline_cell, _ = table_row(page, metric)
        assert candidate_cell == f"{decision.candidate_metrics[metric]:.4f}"
        assert champion_cell == f"{second.champion_metrics[metric]:.4f}"
        assert baseline_cell == f"{decision.baseline_metrics[metric]:.4f}"
    assert "champion v1" in page
    # The reason is escaped into the page verbatim, and the verdict matches the decision.
    assert html.escape(decision.reason) in page
    headline = "Promoted: version 2" if decision.promoted else "Kept champion version 1"
    assert headline in page
    assert "memory://shuffled.csv" in page


def test_report_inlines_the_candidates_plots_as_png(retrainings: TwoRetrainings) -> None:
    first = retrainings.first
    assert first.report is not None
    page = first.report.read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) >= 3, "the binary candidate logs several plots"
    for encoded in images:
        assert base64.b64decode(encoded).startswith(b"\x89PNG\r\n\x1a\n")
    assert "<script" not in page and 'src="http' not in page


def test_render_escapes_untrusted_text(retrainings: TwoRetrainings) -> None:
    first = retrainings.first
    hostile = first.decision.model_copy(
        update={
            "reason": "<script>alert(1)</script>",
            "data": first.decision.data.model_copy(update={"uri": "s3://b/<img src=x>"}),
        }
    )
    page = render_retraining_report(hostile, None, {})
    assert "<script>" not in page and "<img src=x>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "No plots were logged for this candidate." in page
