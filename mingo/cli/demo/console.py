"""How the demo shows what happened: decisions, service answers and the closing summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from mingo.cli.demo.predictions import ServiceAnswer
from mingo.registry import RecordedDecision

SHORT_ID = 10


def short(identifier: str) -> str:
    """The first characters of a 64-hex id: enough to tell customers and places apart."""
    return identifier[:SHORT_ID]


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def decisions_table(title: str, decisions: list[RecordedDecision]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("model", "candidate", "champion", "promoted", "metric", "candidate", "champion"):
        table.add_column(column)
    for decision in decisions:
        before = decision.champion_version_before
        after = decision.champion_version_after
        moved = f"v{before} -> v{after}" if before else f"none -> v{after}"
        table.add_row(
            decision.model,
            f"v{decision.candidate_version}",
            moved if before != after else f"v{after} kept",
            "[green]promoted[/green]" if decision.promoted else "[yellow]kept[/yellow]",
            decision.metric or "-",
            _score(decision.candidate_score),
            _score(decision.champion_score),
        )
    return table


def decision_reasons(decisions: list[RecordedDecision]) -> str:
    """One line per model: why it was promoted or kept (the decision's own words)."""
    return "\n".join(f"  {d.model}: {d.reason}" for d in decisions)


def _answer_text(kind: str, prediction: dict[str, Any]) -> str:
    if kind == "binary":
        verdict = "will buy" if prediction["will_buy"] else "will not buy"
        return f"P(buys in 30 days) {prediction['probability']:.3f}: {verdict}"
    if kind == "multiclass":
        return "\n".join(
            f"{short(r['origin'])} -> {short(r['destination'])}  p={r['probability']:.3f}"
            for r in prediction["routes"][:3]
        )
    return f"segment {prediction['segment']}: {prediction['segment_name']}"


def answers_table(title: str, answers: list[ServiceAnswer]) -> Table:
    table = Table(title=title, show_lines=True, title_justify="left")
    table.add_column("service")
    table.add_column("model")
    table.add_column("customer")
    table.add_column("answer")
    for answer in answers:
        for prediction in answer.predictions:
            table.add_row(
                answer.kind,
                f"v{answer.model_version}",
                short(str(prediction["customer_id"])),
                _answer_text(answer.kind, prediction),
            )
    return table


def summary_panel(
    home: Path,
    mlflow_ui_command: str,
    service_urls: dict[str, str],
    champions: dict[str, str],
    reports: list[Path],
    services_running: bool,
) -> Panel:
    lines = [f"[bold]MINGO_HOME[/bold] {home}"]
    lines.append("")
    lines.append("[bold]Champions[/bold]")
    lines.extend(f"  {model}: v{version}" for model, version in champions.items())
    lines.append("")
    state = "running" if services_running else "stopped at the end of the demo"
    lines.append(f"[bold]Prediction services[/bold] ({state})")
    lines.extend(f"  {kind}: {url}/predict  ({url}/readyz)" for kind, url in service_urls.items())
    lines.append("")
    lines.append("[bold]MLflow UI[/bold] (runs, registry, retraining reports)")
    lines.append(f"  {mlflow_ui_command}")
    lines.append("  then open http://127.0.0.1:5000")
    if reports:
        lines.append("")
        lines.append("[bold]Retraining reports[/bold]")
        lines.extend(f"  {path}" for path in reports)
    lines.append("")
    lines.append("[bold]Next[/bold]")
    lines.append(f"  MINGO_HOME={home} mingo models status")
    lines.append(f"  MINGO_HOME={home} mingo serve binary --port 3000")
    return Panel("\n".join(lines), title="MinGo demo: summary", expand=False)


def print_error(console: Console, message: str) -> None:
    console.print(Panel(message, title="demo failed", border_style="red", expand=False))
