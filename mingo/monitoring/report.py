"""The monitoring report (one self-contained HTML page) and its Prometheus text file.

The page needs no network and no other file (plots are base64 PNGs): the decision and its
reason at the top, the served version's numbers, the live gate metric per as-of week for every
version with its holdout score as a dashed line, PSI per feature as bars with the threshold,
and the weekly table. `metrics.prom` holds the same numbers in Prometheus' text format for
node-exporter's textfile collector (written atomically: the collector may read at any time).
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mingo.monitoring.result import MonitorResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 62rem; color: #222; }
h1 { margin-bottom: 0.2rem; } .sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6rem 0 1.2rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; } tr.over td { background: #fdecea; }
.verdict { padding: 0.8rem 1rem; border-radius: 6px; margin: 1rem 0; }
.retrain { background: #fdecea; border: 1px solid #d77; }
.fine { background: #e6f6e6; border: 1px solid #7c7; }
img { max-width: 100%; border: 1px solid #ddd; }
"""


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    return f"{value:.{digits}f}"


def _png(figure: Figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def live_figure(result: MonitorResult) -> Figure | None:
    """The gate metric per as-of week, one line per version, its holdout score dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result.weekly if result.metric in r]
    if not rows:
        return None
    figure, axis = plt.subplots(figsize=(8, 3.6))
    versions = sorted({r["model_version"] for r in rows}, key=lambda v: (len(v), v))
    for i, version in enumerate(versions):
        mine = sorted((r for r in rows if r["model_version"] == version), key=lambda r: r["week"])
        weeks: Any = [date.fromisoformat(r["week"]) for r in mine]  # matplotlib draws dates
        colour = f"C{i % 10}"
        axis.plot(
            weeks,
            [r[result.metric] for r in mine],
            marker="o",
            color=colour,
            label=f"version {version} live",
        )
        holdout = result.versions[version].holdout_score if version in result.versions else None
        if holdout is not None:
            axis.axhline(
                holdout,
                color=colour,
                linestyle="--",
                linewidth=1,
                label=f"version {version} holdout {holdout:.3f}",
            )
    axis.set_xlabel("as-of week")
    axis.set_ylabel(result.metric)
    axis.set_title(f"{result.model}: live {result.metric} per as-of week")
    axis.legend(fontsize=8)
    figure.autofmt_xdate()
    return figure


def drift_figure(result: MonitorResult) -> Figure | None:
    """PSI per feature (and of the predictions) as bars, the threshold as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = dict(sorted(result.drift.items(), key=lambda item: -item[1]))
    if result.prediction_drift is not None:
        values = {"(prediction)": result.prediction_drift, **values}
    if not values:
        return None
    figure, axis = plt.subplots(figsize=(8, 0.25 * len(values) + 1.2))
    names = list(values)[::-1]
    bars = [values[n] for n in names]
    colours = ["#c44" if v > result.drift_threshold else "#48a" for v in bars]
    axis.barh(names, bars, color=colours)
    axis.axvline(
        result.drift_threshold,
        color="#c44",
        linestyle="--",
        label=f"threshold {result.drift_threshold}",
    )
    axis.set_xlabel("PSI (recent requests vs the version's reference)")
    axis.tick_params(axis="y", labelsize=7)
    axis.legend(fontsize=8)
    return figure


def render_report(result: MonitorResult) -> str:
    """The page as one HTML string."""
    e = html.escape
    verdict = "retrain" if result.retrain_needed else "fine"
    headline = "Retraining needed" if result.retrain_needed else "No retraining needed"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Monitoring {e(result.model)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Monitoring {e(result.model)}</h1>",
        f"<p class='sub'>as of {result.as_of.isoformat()} &middot; served version "
        f"{e(result.served_version)} &middot; request {e(result.request_id or '')} &middot; "
        f"MLflow run {e(result.mlflow_run_id or '')}</p>",
        f"<div class='verdict {verdict}'><strong>{headline}</strong><br>{e(result.reason)}</div>",
        "<table><tr><th>number</th><th>value</th><th>threshold</th></tr>",
        f"<tr><td>holdout {e(result.metric)}</td><td>{_number(result.holdout_score)}</td>"
        "<td></td></tr>",
        f"<tr><td>live {e(result.metric)}</td><td>{_number(result.live_score)}</td>"
        f"<td>tolerance {result.tolerance}</td></tr>",
        f"<tr><td>outcomes (closed windows)</td><td>{result.outcomes}</td>"
        f"<td>min {result.min_outcomes}</td></tr>",
        f"<tr><td>max feature PSI</td><td>"
        f"{_number(max(result.drift.values()) if result.drift else None, 3)}</td>"
        f"<td>{result.drift_threshold}</td></tr>",
        f"<tr><td>prediction PSI</td><td>{_number(result.prediction_drift, 3)}</td>"
        f"<td>{result.drift_threshold}</td></tr>",
        f"<tr><td>requests compared for drift</td><td>{result.drift_requests}</td><td></td></tr>",
        "</table>",
    ]
    figure = live_figure(result)
    parts.append("<h2>Live vs holdout, per as-of week</h2>")
    if figure is not None:
        parts.append(f"<img alt='live metric per week' src='data:image/png;base64,{_png(figure)}'>")
    else:
        parts.append("<p>No outcome has a closed window yet.</p>")
    parts.append("<h2>Drift per feature</h2>")
    figure = drift_figure(result)
    if figure is not None:
        parts.append(f"<img alt='PSI per feature' src='data:image/png;base64,{_png(figure)}'>")
        parts.append("<table><tr><th>feature</th><th>PSI</th></tr>")
        for name, value in sorted(result.drift.items(), key=lambda item: -item[1]):
            over = " class='over'" if value > result.drift_threshold else ""
            parts.append(f"<tr{over}><td>{e(name)}</td><td>{value:.3f}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>Drift was not computed (see the reason above).</p>")
    parts.append(
        "<h2>Per version</h2><table><tr><th>version</th><th>holdout</th>"
        f"<th>live {e(result.metric)}</th><th>outcomes</th><th>label window</th></tr>"
    )
    for version, info in result.versions.items():
        parts.append(
            f"<tr><td>{e(version)}</td><td>{_number(info.holdout_score)}</td>"
            f"<td>{_number(info.live_metrics.get(result.metric))}</td><td>{info.outcomes}</td>"
            f"<td>{info.window_days} days</td></tr>"
        )
    parts.append("</table>")
    if result.weekly:
        names = sorted(
            {k for r in result.weekly for k in r} - {"model_version", "week", "outcomes"}
        )
        parts.append(
            "<h2>Per version and as-of week</h2><table><tr><th>version</th><th>week</th>"
            "<th>outcomes</th>" + "".join(f"<th>{e(n)}</th>" for n in names) + "</tr>"
        )
        for row in result.weekly:
            cells = "".join(f"<td>{_number(row.get(n))}</td>" for n in names)
            parts.append(
                f"<tr><td>{e(row['model_version'])}</td><td>{e(row['week'])}</td>"
                f"<td>{row['outcomes']}</td>{cells}</tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", delete=False, encoding="utf-8"
    ) as handle:
        handle.write(text)
    # Readable by the node-exporter's user (a temporary file starts owner-only).
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, path)


def write_report(result: MonitorResult, path: Path) -> Path:
    _atomic_write(path, render_report(result))
    return path


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(result: MonitorResult) -> str:
    """The monitor's numbers as Prometheus gauges (text exposition format)."""
    model = _label(result.model)
    served = _label(result.served_version)
    lines: list[str] = []

    def gauge(name: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        samples = [(labels, v) for labels, v in samples if v is not None and math.isfinite(v)]
        if not samples:
            return
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        lines.extend(f"{name}{{{labels}}} {value!r}" for labels, value in samples)

    gauge(
        "mingo_monitor_live_metric",
        "Live metric of a version on its outcomes with a closed label window.",
        [
            (f'model="{model}",version="{_label(v)}",metric="{_label(m)}"', value)
            for v, info in result.versions.items()
            for m, value in info.live_metrics.items()
        ],
    )
    gauge(
        "mingo_monitor_holdout_score",
        "The version's gate metric on its training holdout.",
        [
            (
                f'model="{model}",version="{_label(v)}",metric="{_label(result.metric)}"',
                info.holdout_score,
            )
            for v, info in result.versions.items()
            if info.holdout_score is not None
        ],
    )
    gauge(
        "mingo_monitor_outcomes",
        "Predictions of the version joined with their outcome.",
        [
            (f'model="{model}",version="{_label(v)}"', float(i.outcomes))
            for v, i in result.versions.items()
        ],
    )
    gauge(
        "mingo_monitor_feature_psi",
        "PSI of a feature: recent requests vs the served version's reference.",
        [
            (f'model="{model}",version="{served}",feature="{_label(f)}"', v)
            for f, v in result.drift.items()
        ],
    )
    if result.prediction_drift is not None:
        gauge(
            "mingo_monitor_prediction_psi",
            "PSI of the served predictions vs the version's reference predictions.",
            [(f'model="{model}",version="{served}"', result.prediction_drift)],
        )
    gauge(
        "mingo_monitor_retrain_needed",
        "1 when the last monitor run asked for a retraining.",
        [(f'model="{model}",version="{served}"', float(result.retrain_needed))],
    )
    gauge(
        "mingo_monitor_as_of_timestamp_seconds",
        "The monitor's as-of date (Unix seconds, midnight UTC).",
        [(f'model="{model}"', float(_epoch_seconds(result.as_of)))],
    )
    return "\n".join(lines) + "\n"


def _epoch_seconds(day: date) -> int:
    return (day - date(1970, 1, 1)).days * 86400


def write_prometheus(result: MonitorResult, path: Path) -> Path:
    _atomic_write(path, prometheus_text(result))
    return path
