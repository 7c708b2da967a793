"""`mingo train` end to end on the embedded stack (ZenML local store, MLflow on SQLite).

One MINGO_HOME for the whole module, because a ZenML retraining costs tens of seconds: the
tests run in file order and tell one story. The first retraining promotes; every fault
(bad file, S3 down, registry down, process killed after registration, a concurrent run)
is followed by a retraining that succeeds, and after each fault the champion is unchanged
and still loads.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mingo.cli.app import app
from mingo.config import load_settings
from mingo.registry import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS,
    get_alias_version,
    load_model,
    read_decision,
)
from mingo.tracking import mlflow_client
from tests.pipelines.conftest import (
    MINGO,
    REPO_ROOT,
    clean_env,
    explain,
    last_json_line,
    run_mingo,
    small_purchases,
    write_purchases_csv,
)
from tests.pipelines.fault_runner import EXIT_AFTER_REGISTER, FAULT_EXIT_CODE

DECISION_KEYS = {
    "model",
    "candidate_version",
    "champion_version_before",
    "champion_version_after",
    "promoted",
    "metric",
    "candidate_score",
    "champion_score",
    "reason",
}


@dataclass(frozen=True)
class EmbeddedStack:
    home: Path
    data: Path
    bad: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedStack:
    root = tmp_path_factory.mktemp("retrain-lifecycle")
    purchases = small_purchases()
    bad = purchases.head(500).copy()
    bad["gmv_success"] = bad["gmv_success"].astype(object)
    bad.loc[bad.index[7], "gmv_success"] = "not-a-number"
    return EmbeddedStack(
        home=root / "mingo-home",
        data=write_purchases_csv(purchases, root / "purchases.csv"),
        bad=write_purchases_csv(bad, root / "bad.csv"),
    )


@pytest.fixture
def registry_of(stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point this test process at the module's embedded registry."""
    monkeypatch.setenv("MINGO_HOME", str(stack.home))
    yield


def aliases() -> dict[str, str | None]:
    client = mlflow_client(load_settings())
    return {
        alias: get_alias_version(client, "binary", alias)
        for alias in (CHAMPION, PREVIOUS, CHALLENGER)
    }


def latest_version() -> int:
    versions = mlflow_client(load_settings()).search_model_versions("name='mingo-binary'")
    return max(int(v.version) for v in versions)


def assert_champion_consistent(expected: str) -> None:
    assert aliases()[CHAMPION] == expected
    champion = load_model("binary", CHAMPION)
    assert champion.kind == "binary"
    assert hasattr(champion.estimator, "predict_proba")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def zenml_production_version(stack: EmbeddedStack) -> str:
    """The MLflow version ZenML's production Model version points at (read in a fresh process)."""
    script = (
        "from mingo.config import load_settings\n"
        "from zenml_pipelines.environment import prepare_zenml; prepare_zenml(load_settings())\n"
        "from zenml_pipelines.lineage import production_mlflow_version\n"
        "print(production_mlflow_version('binary'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=clean_env(stack.home),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, explain(result)
    return result.stdout.strip().splitlines()[-1]


def train(
    stack: EmbeddedStack, data: Path | str, *flags: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return run_mingo(["train", "binary", "--data", str(data), *flags], clean_env(stack.home, **env))


def test_first_retraining_promotes_the_candidate(stack: EmbeddedStack, registry_of: None) -> None:
    result = train(stack, stack.data)
    assert result.returncode == 0, explain(result)
    decision = last_json_line(result)
    assert decision.keys() >= DECISION_KEYS
    assert decision["promoted"] is True
    assert decision["candidate_version"] == "1"
    assert decision["champion_version_before"] is None
    assert decision["champion_version_after"] == "1"
    assert decision["champion_score"] is None
    assert decision["metric"] == "f1"
    assert decision["champion_status"] == "none"
    assert decision["candidate_target"]["label_window_days"] == 30
    assert decision["data"]["uri"] == str(stack.data)
    assert decision["data"]["rows"] > 1000 and len(decision["data"]["sha256"]) == 64
    assert "baseline" not in decision["candidate_metrics"]
    assert set(decision["baseline_metrics"]) >= {"accuracy", "f1", "roc_auc"}
    assert aliases() == {CHAMPION: "1", PREVIOUS: None, CHALLENGER: "1"}
    tags = mlflow_client(load_settings()).get_model_version("mingo-binary", "1").tags
    assert tags["mingo.decision.promoted"] == "true"
    assert tags["mingo.data.sha256"] == decision["data"]["sha256"]
    # A run nobody gave a reason (schedule or manual) records an empty one.
    assert decision["trigger_reason"] == "" and tags["mingo.decision.trigger_reason"] == ""
    run = mlflow_client(load_settings()).get_run(decision["mlflow_run_id"])
    assert run.data.metrics["baseline_accuracy"] == pytest.approx(
        decision["baseline_metrics"]["accuracy"]
    )
    plots = [
        a.path
        for a in mlflow_client(load_settings()).list_artifacts(decision["mlflow_run_id"], "plots")
    ]
    assert plots and all(path.endswith(".png") for path in plots)


def test_bad_data_file_fails_with_the_validators_message(
    stack: EmbeddedStack, registry_of: None
) -> None:
    result = train(stack, stack.bad)
    assert result.returncode == 2, explain(result)
    assert "gmv_success" in result.stderr
    assert "champion unchanged" in result.stderr
    assert latest_version() == 1
    assert_champion_consistent("1")


def test_rerun_on_the_same_data_does_not_promote(stack: EmbeddedStack, registry_of: None) -> None:
    # What the monitoring DAG passes when it triggers the retraining DAG.
    why = "live f1 0.31 below holdout 0.42 - tolerance 0.05 (812 outcomes)"
    result = train(stack, stack.data, "--trigger-reason", why)
    assert result.returncode == 0, explain(result)
    decision = last_json_line(result)
    assert decision["trigger_reason"] == why
    assert decision["request"]["trigger_reason"] == why
    recorded = read_decision(mlflow_client(load_settings()), "binary", "2")
    assert recorded.trigger_reason == why
    assert recorded.request["trigger_reason"] == why
    assert decision["promoted"] is False
    assert decision["candidate_version"] == "2"
    assert decision["champion_version_before"] == decision["champion_version_after"] == "1"
    # The champion was re-scored on this run's holdout: same data, same model, same score.
    assert decision["champion_score"] == pytest.approx(decision["candidate_score"])
    assert decision["champion_status"] == "scored"
    assert "below the required margin" in decision["reason"]
    assert aliases() == {CHAMPION: "1", PREVIOUS: None, CHALLENGER: "2"}

    status = CliRunner().invoke(app, ["models", "status"])
    assert status.exit_code == 0, status.output
    assert "champion   v1" in status.stdout
    assert "challenger v2" in status.stdout
    as_json = json.loads(CliRunner().invoke(app, ["models", "status", "--json"]).stdout)
    binary = next(model for model in as_json if model["model"] == "mingo-binary")
    assert binary["champion"]["version"] == "1"
    assert binary["latest"]["version"] == "2"
    assert binary["champion"]["metrics"]["f1"] == pytest.approx(decision["champion_score"])


def test_s3_unreachable_during_load_fails_and_keeps_champion(
    stack: EmbeddedStack, registry_of: None
) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    result = train(
        stack,
        "s3://mingo-data/purchases.csv",
        MLFLOW_S3_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="mingo",
        AWS_SECRET_ACCESS_KEY="mingo-secret",
        AWS_MAX_ATTEMPTS="1",
    )
    # An outage is retryable (exit 1), never "bad data" (exit 2).
    assert result.returncode == 1, explain(result)
    assert f"S3 endpoint {endpoint} unreachable" in result.stderr
    assert "DataUnavailableError" in result.stderr
    assert "champion unchanged" in result.stderr
    assert latest_version() == 2
    assert_champion_consistent("1")


def test_force_promote_promotes_without_margin_and_says_so(
    stack: EmbeddedStack, registry_of: None
) -> None:
    result = train(stack, stack.data, "--force-promote")
    assert result.returncode == 0, explain(result)
    decision = last_json_line(result)
    assert decision["promoted"] is True and decision["forced"] is True
    assert decision["reason"].startswith("forced promotion (would not have promoted")
    assert decision["candidate_version"] == "3"
    assert aliases() == {CHAMPION: "3", PREVIOUS: "1", CHALLENGER: "3"}
    tags = mlflow_client(load_settings()).get_model_version("mingo-binary", "3").tags
    assert tags["mingo.decision.forced"] == "true"
    assert tags["mingo.replaced_version"] == "1"
    assert zenml_production_version(stack) == "3"


def test_mlflow_registry_unreachable_at_registration(
    stack: EmbeddedStack, registry_of: None
) -> None:
    registry = f"http://127.0.0.1:{closed_port()}"
    result = train(
        stack,
        stack.data,
        MLFLOW_REGISTRY_URI=registry,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        MLFLOW_HTTP_REQUEST_TIMEOUT="5",
    )
    assert result.returncode == 1, explain(result)
    assert "registering the candidate of mingo-binary failed" in result.stderr
    assert latest_version() == 3
    assert aliases() == {CHAMPION: "3", PREVIOUS: "1", CHALLENGER: "3"}
    assert_champion_consistent("3")


def test_a_candidate_for_another_horizon_is_not_comparable(
    stack: EmbeddedStack, registry_of: None
) -> None:
    result = train(stack, stack.data, "--horizon", "7")
    assert result.returncode == 0, explain(result)
    decision = last_json_line(result)
    assert decision["promoted"] is False
    assert decision["champion_status"] == "not_comparable"
    assert decision["reason"] == "not comparable: label_window_days 7 vs champion's 30"
    assert decision["champion_score"] is None
    assert decision["champion_version_after"] == "3"
    tags = (
        mlflow_client(load_settings())
        .get_model_version("mingo-binary", decision["candidate_version"])
        .tags
    )
    assert tags["mingo.decision.reason"] == decision["reason"]
    assert_champion_consistent("3")


def test_process_killed_between_registration_and_promotion(
    stack: EmbeddedStack, registry_of: None
) -> None:
    before = latest_version()
    result = train(stack, stack.data, "--force-promote", "--runner", EXIT_AFTER_REGISTER)
    assert result.returncode == FAULT_EXIT_CODE, explain(result)
    killed = str(before + 1)
    assert latest_version() == before + 1
    # Registered and named challenger, never judged: no decision, champion untouched.
    assert aliases() == {CHAMPION: "3", PREVIOUS: "1", CHALLENGER: killed}
    tags = mlflow_client(load_settings()).get_model_version("mingo-binary", killed).tags
    assert "mingo.decision.promoted" not in tags
    assert_champion_consistent("3")


def test_two_retrainings_of_one_kind_at_once(stack: EmbeddedStack, registry_of: None) -> None:
    lock = stack.home / "locks" / "retrain-binary.lock"
    first = subprocess.Popen(
        [*MINGO, "train", "binary", "--data", str(stack.data)],
        env=clean_env(stack.home),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while f"pid {first.pid}" not in (lock.read_text() if lock.exists() else ""):
            assert first.poll() is None, "the first retraining ended before taking the lock"
            assert time.monotonic() < deadline, "the first retraining never took the lock"
            time.sleep(0.2)
        second = train(stack, stack.data, "--force-promote")
        out, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode == 3, explain(second)
    assert "another retraining of binary is running" in second.stderr
    assert f"pid {first.pid}" in second.stderr
    assert first.returncode == 0, err[-3000:]
    decision = last_json_line(subprocess.CompletedProcess([], 0, out, err))
    assert decision["promoted"] is False
    assert_champion_consistent("3")


def test_dry_run_trains_and_compares_but_registers_nothing(
    stack: EmbeddedStack, registry_of: None
) -> None:
    before = latest_version()
    result = train(stack, stack.data, "--dry-run", "--force-promote")
    assert result.returncode == 0, explain(result)
    decision = last_json_line(result)
    assert decision["dry_run"] is True
    assert decision["candidate_version"] is None
    assert decision["promoted"] is False
    assert decision["champion_score"] is not None
    assert decision["reason"].startswith("dry run, nothing registered")
    assert latest_version() == before
    assert aliases()[CHAMPION] == "3"


def test_models_rollback_then_promote_by_hand(stack: EmbeddedStack, registry_of: None) -> None:
    # In process (the same Typer commands `mingo` runs): a process start costs seconds here.
    rolled = CliRunner().invoke(app, ["models", "rollback", "binary"])
    assert rolled.exit_code == 0, rolled.output
    assert json.loads(rolled.stdout)["champion_version_after"] == "1"
    assert aliases()[CHAMPION] == "1" and aliases()[PREVIOUS] is None
    promoted = CliRunner().invoke(app, ["models", "promote", "binary", "3"])
    assert promoted.exit_code == 0, promoted.output
    assert aliases()[CHAMPION] == "3" and aliases()[PREVIOUS] == "1"
    missing = CliRunner().invoke(app, ["models", "promote", "binary", "99"])
    assert missing.exit_code == 1
    assert "has no version 99" in missing.stderr
