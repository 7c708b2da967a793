"""The retraining report: one self-contained HTML page per retraining decision.

It shows the candidate and the champion scored on the same holdout (with the naive baseline
beside them), the candidate's evaluation plots inlined as base64 PNG, the identity of the
data (URI, rows, hash, cutoff) and the decision with its reason. The page needs no network
and no other file, so it can be opened from the MLflow UI, mailed or archived as is.

`render_retraining_report` only renders. `record_retraining_report` renders from what the
registry holds (plots from the candidate's run), writes the page under
`$MINGO_HOME/reports/` and logs it as `retraining_report.html` on the candidate's run.
"""

from __future__ import annotations

import base64
import html
import logging
import math
import tempfile
from pathlib import Path

from mingo.config import Settings
from mingo.promotion import LOWER_IS_BETTER, improvement
from mingo.retraining.decision import Decision

REPORT_ARTIFACT = "retraining_report.html"
REPORTS_DIRNAME = "reports"
PLOTS_ARTIFACT_DIR = "plots"

# Contract metric names in the order a reader expects them; unknown names follow, sorted.
METRIC_ORDER: tuple[str, ...] = (
    "accuracy",
    "roc_auc",
    "pr_auc",
    "f1",
    "top_3_accuracy",
    "top_5_accuracy",
    "macro_f1",
    "silhouette",
    "davies_bouldin",
)

logger = logging.getLogger(__name__)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
h1 { margin-bottom: 0.2rem; } .sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6rem 0 1.2rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; } tr.judged td { font-weight: bold; background: #fffbe6; }
.verdict { padding: 0.8rem 1rem; border-radius: 6px; margin: 1rem 0; }
.promoted { background: #e6f6e6; border: 1px solid #7c7; }
.kept { background: #f6f0e6; border: 1px solid #cb8; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; } figcaption { text-align: center; color: #555; }
img { max-width: 28rem; border: 1px solid #ddd; }
code { background: #f3f3f3; padding: 0 0.2rem; }
"""


def _ordered_metric_names(*metric_sets: dict[str, float] | None) -> list[str]:
    names: set[str] = set()
    for metrics in metric_sets:
        names.update(metrics or {})
    known = [name for name in METRIC_ORDER if name in names]
    return known + sorted(names - set(METRIC_ORDER))


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    return f"{value:.4f}"


def _difference(name: str, candidate: float | None, champion: float | None) -> str:
    if candidate is None or champion is None or math.isnan(candidate) or math.isnan(champion):
        return "&ndash;"
    better = improvement(name, candidate, champion)
    arrow = "better" if better > 0 else "worse" if better < 0 else "equal"
    return f"{candidate - champion:+.4f} ({arrow})"


def champion_metrics_from_decision(decision: Decision) -> dict[str, float] | None:
    """The champion's scores a decision itself carries: the judged metric and guardrails."""
    if decision.champion_version_before is None or decision.judged_against != "champion":
        return None  # no champion, or its scores are the baseline's (unscorable champion)
    known: dict[str, float] = {}
    if decision.champion_score is not None:
        known[decision.metric] = decision.champion_score
    for check in decision.guardrails:
        if check.get("champion") is not None:
            known[str(check["metric"])] = float(check["champion"])
    return known


def _metrics_table(decision: Decision, champion_metrics: dict[str, float] | None) -> str:
    champion = champion_metrics or {}
    champion_label = (
        f"champion v{html.escape(decision.champion_version_before)}"
        if decision.champion_version_before
        else "champion (none yet)"
    )
    rows = []
    for name in _ordered_metric_names(
        decision.candidate_metrics, champion_metrics, decision.baseline_metrics
    ):
        candidate_value = decision.candidate_metrics.get(name)
        champion_value = champion.get(name)
        direction = "lower is better" if name in LOWER_IS_BETTER else "higher is better"
        judged = ' class="judged"' if name == decision.metric else ""
        rows.append(
            f"<tr{judged}><td>{html.escape(name)} <small>({direction})</small></td>"
            f"<td>{_number(candidate_value)}</td><td>{_number(champion_value)}</td>"
            f"<td>{_number(decision.baseline_metrics.get(name))}</td>"
            f"<td>{_difference(name, candidate_value, champion_value)}</td></tr>"
        )
    candidate_label = (
        f"candidate v{html.escape(decision.candidate_version)}"
        if decision.candidate_version
        else "candidate (not registered)"
    )
    return (
        "<table><thead><tr><th>metric</th>"
        f"<th>{candidate_label}</th><th>{champion_label}</th>"
        "<th>naive baseline</th><th>candidate &minus; champion</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _guardrails_table(decision: Decision) -> str:
    if not decision.guardrails:
        return "<p>No guardrail metrics in this policy.</p>"
    rows = []
    for check in decision.guardrails:
        regression = check.get("regression")
        rows.append(
            f"<tr><td>{html.escape(str(check.get('metric')))}</td>"
            f"<td>{_number(check.get('candidate'))}</td><td>{_number(check.get('champion'))}</td>"
            f"<td>{_number(regression)}</td><td>{_number(check.get('tolerance'))}</td>"
            f"<td>{'pass' if check.get('passed') else 'FAIL'}</td></tr>"
        )
    return (
        "<table><thead><tr><th>guardrail</th><th>candidate</th><th>champion</th>"
        "<th>regression</th><th>tolerance</th><th>result</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _data_table(decision: Decision) -> str:
    data = decision.data
    cutoff = data.cutoff.isoformat() if data.cutoff is not None else "default (from the data)"
    rows = [
        ("URI", f"<code>{html.escape(data.uri)}</code>"),
        ("rows (after validation)", f"{data.rows:,}"),
        ("SHA-256", f"<code>{html.escape(data.sha256)}</code>"),
        ("holdout cutoff", html.escape(cutoff)),
    ]
    body = "".join(f"<tr><td>{label}</td><td>{value}</td></tr>" for label, value in rows)
    return f"<table><tbody>{body}</tbody></table>"


def _plots_section(plots: dict[str, bytes]) -> str:
    if not plots:
        return "<p>No plots were logged for this candidate.</p>"
    figures = []
    for name, png in sorted(plots.items()):
        encoded = base64.b64encode(png).decode("ascii")
        caption = html.escape(name.replace("_", " "))
        figures.append(
            f'<figure><img alt="{caption}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    return f'<div class="plots">{"".join(figures)}</div>'


def _verdict_section(decision: Decision) -> str:
    if decision.dry_run:
        headline = "Dry run: nothing was registered or promoted"
    elif decision.promoted:
        headline = (
            f"Promoted: version {html.escape(decision.champion_version_after or '?')} "
            "is the champion now"
        )
    else:
        kept = decision.champion_version_after
        headline = (
            f"Kept champion version {html.escape(kept)}" if kept else "Not promoted (no champion)"
        )
    forced = " <strong>(forced)</strong>" if decision.forced else ""
    relative = (
        ""
        if decision.min_relative_margin is None
        else f" or {decision.min_relative_margin:.1%} relative"
    )
    margins = (
        f"Required margin: {decision.min_absolute_margin} absolute{relative} on <code>"
        f"{html.escape(decision.metric)}</code>."
    )
    css = "promoted" if decision.promoted else "kept"
    judged = (
        f"Champion: {html.escape(_CHAMPION_STATUS[decision.champion_status])}; judged against "
        f"the {html.escape(decision.judged_against)}."
        if decision.judged_against != "none"
        else "No champion: judged on its own (guardrail floors)."
    )
    return (
        f'<div class="verdict {css}"><strong>{headline}</strong>{forced}'
        f"<p>Why: {html.escape(decision.reason)}</p><p>{judged} {margins}</p></div>"
    )


_CHAMPION_STATUS = {
    "none": "none yet",
    "scored": "re-scored on this holdout",
    "not_comparable": "answers another question (target definition differs)",
    "unscorable": "could not be loaded or scored",
}


def render_retraining_report(
    decision: Decision,
    champion_metrics: dict[str, float] | None = None,
    plots: dict[str, bytes] | None = None,
) -> str:
    """The HTML page of one retraining decision.

    `champion_metrics` are the champion's scores on the candidate's holdout (all of them
    when the caller has them; otherwise those the decision carries are shown). `plots` maps
    a plot name to PNG bytes; they are inlined, so the page stands alone.
    """
    if champion_metrics is None:
        champion_metrics = champion_metrics_from_decision(decision)
    title = f"Retraining of {decision.model}"
    decided = decision.decided_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    run = (
        f" &middot; MLflow run <code>{html.escape(decision.mlflow_run_id)}</code>"
        if decision.mlflow_run_id
        else ""
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="sub">decided {html.escape(decided)}{run}</p>'
        "<h2>Decision</h2>"
        f"{_verdict_section(decision)}"
        "<h2>Candidate vs champion on the same holdout</h2>"
        f"{_metrics_table(decision, champion_metrics)}"
        "<h3>Guardrails</h3>"
        f"{_guardrails_table(decision)}"
        "<h2>Data</h2>"
        f"{_data_table(decision)}"
        "<h2>Candidate's plots on the holdout</h2>"
        f"{_plots_section(plots or {})}"
        "</body></html>\n"
    )


def candidate_plots(run_id: str, settings: Settings) -> dict[str, bytes]:
    """The PNG plots logged on a run (under `plots/`), by name."""
    import mlflow

    from mingo.tracking import mlflow_client

    client = mlflow_client(settings)
    if not any(item.path == PLOTS_ARTIFACT_DIR for item in client.list_artifacts(run_id)):
        return {}
    with tempfile.TemporaryDirectory(prefix="mingo-report-") as scratch:
        local = Path(
            mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=PLOTS_ARTIFACT_DIR, dst_path=scratch
            )
        )
        return {path.stem: path.read_bytes() for path in sorted(local.glob("*.png"))}


def report_path(decision: Decision, home: Path) -> Path:
    """`$MINGO_HOME/reports/<model>-v<candidate>-<timestamp>.html`."""
    version = decision.candidate_version or "dry-run"
    stamp = decision.decided_at.strftime("%Y%m%dT%H%M%S")
    root = home / REPORTS_DIRNAME
    return root / f"{decision.model}-v{version}-{stamp}.html"


def record_retraining_report(
    decision: Decision,
    champion_metrics: dict[str, float] | None,
    settings: Settings,
) -> Path | None:
    """Render the report, write it under MINGO_HOME and log it on the candidate's run.

    The decision is already taken and recorded when this runs: a failure here is logged as a
    warning and returns None, never turns a finished retraining into a failed one.
    """
    try:
        plots = candidate_plots(decision.mlflow_run_id, settings) if decision.mlflow_run_id else {}
        page = render_retraining_report(decision, champion_metrics, plots)
        path = report_path(decision, settings.home)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
        if decision.mlflow_run_id and not decision.dry_run:
            from mingo.tracking import mlflow_client

            mlflow_client(settings).log_text(decision.mlflow_run_id, page, REPORT_ARTIFACT)
    except Exception as error:
        logger.warning("the retraining report of %s was not written: %s", decision.model, error)
        return None
    return path
