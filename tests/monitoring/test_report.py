"""The monitoring report renders the decision and the numbers; metrics.prom parses."""

from __future__ import annotations

import base64
import re
from datetime import date
from pathlib import Path

from mingo.monitoring.report import prometheus_text, render_report, write_prometheus, write_report
from mingo.monitoring.result import MonitorResult, VersionMonitor

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sample_result(retrain: bool = True) -> MonitorResult:
    return MonitorResult(
        model="mingo-binary",
        served_version="2",
        metric="f1",
        holdout_score=0.4612,
        live_score=0.3187,
        outcomes=812,
        tolerance=0.05,
        drift={"recency_days": 0.4321, "frequency": 0.0123},
        prediction_drift=0.0876,
        drift_threshold=0.25,
        retrain_needed=retrain,
        reason="retrain needed: live f1 0.3187 < holdout 0.4612 - tolerance 0.05 = 0.4112",
        as_of=date(2024, 4, 1),
        min_outcomes=100,
        request_id="req-<1>",
        mlflow_run_id="abc123",
        live_metrics={"f1": 0.3187, "roc_auc": 0.71},
        versions={
            "1": VersionMonitor(
                version="1",
                holdout_score=0.45,
                window_days=30,
                outcomes=300,
                live_metrics={"f1": 0.44},
            ),
            "2": VersionMonitor(
                version="2",
                holdout_score=0.4612,
                window_days=30,
                outcomes=812,
                live_metrics={"f1": 0.3187, "roc_auc": 0.71},
            ),
        },
        weekly=[
            {"model_version": "1", "week": "2024-01-01", "outcomes": 300, "f1": 0.44},
            {"model_version": "2", "week": "2024-01-08", "outcomes": 400, "f1": 0.35},
            {"model_version": "2", "week": "2024-01-15", "outcomes": 412, "f1": 0.2891},
        ],
        drift_requests=640,
    )


def test_report_puts_the_decision_first_and_shows_the_numbers(tmp_path: Path) -> None:
    page = write_report(sample_result(), tmp_path / "r" / "report.html").read_text()
    body = page[page.index("<body>") :]
    assert body.index("Retraining needed") < body.index("<h2>")
    assert "live f1 0.3187 &lt; holdout 0.4612 - tolerance 0.05 = 0.4112" in page
    for number in ("0.4612", "0.3187", "812", "0.432", "0.088", "0.2891", "req-&lt;1&gt;"):
        assert number in page, number
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(images) == 2  # live vs holdout over weeks, drift per feature
    assert all(base64.b64decode(i).startswith(PNG_SIGNATURE) for i in images)
    assert "http://" not in page and "https://" not in page  # self-contained


def test_report_without_outcomes_or_drift_says_so() -> None:
    result = sample_result(retrain=False).model_copy(
        update={"weekly": [], "drift": {}, "prediction_drift": None, "reason": "no retrain: x"}
    )
    page = render_report(result)
    assert "No retraining needed" in page
    assert "No outcome has a closed window yet" in page
    assert "Drift was not computed" in page


def test_prometheus_text_holds_the_live_metrics_and_drift(tmp_path: Path) -> None:
    text = prometheus_text(sample_result())
    samples = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    key = 'mingo_monitor_live_metric{model="mingo-binary",version="2",metric="f1"}'
    assert float(samples[key]) == 0.3187
    psi = 'mingo_monitor_feature_psi{model="mingo-binary",version="2",feature="recency_days"}'
    assert float(samples[psi]) == 0.4321
    assert float(samples['mingo_monitor_retrain_needed{model="mingo-binary",version="2"}']) == 1
    assert float(samples['mingo_monitor_prediction_psi{model="mingo-binary",version="2"}']) == (
        0.0876
    )
    # Every sample's metric has exactly one TYPE line.
    names = {k.split("{", 1)[0] for k in samples}
    assert all(text.count(f"# TYPE {n} gauge") == 1 for n in names)
    path = write_prometheus(sample_result(), tmp_path / "metrics.prom")
    assert path.read_text() == text
    assert path.stat().st_mode & 0o044 == 0o044  # the collector's user can read it
