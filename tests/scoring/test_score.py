"""`mingo score`: every customer scored by a real registered model, as the service answers.

The registry is the embedded one (SQLite, artifacts on disk), filled through the project's own
registry and promotion functions with models trained on generated purchases: binary twice
(version 2 is the champion, so a pinned `--version 1` is told apart), multiclass and
clustering once. Parity is checked against `ChampionPredictor`, the framework-free core of
the prediction services, loading the same version through the services' own loader.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner, Result

from mingo import MODEL_KINDS, ModelKind
from mingo.cli.app import app
from mingo.data import schema
from mingo.data.generate import generate_purchases
from mingo.data.io import save_purchases
from mingo.scoring import output_columns, prediction_table, score_purchases
from mingo.serving.champion import ChampionAlias, ModelLoader, PinnedVersion
from mingo.serving.predictor import ChampionPredictor
from mingo.serving.schemas import PredictRequest
from tests.fixtures.mlflow_globals import unset_mlflow_globals
from tests.fixtures.services import S3Server

CUSTOMERS = 300
SEED = 16
SMALL: dict[ModelKind, dict[str, Any]] = {
    "binary": {},
    "multiclass": {},
    "clustering": {"n_clusters": 3, "silhouette_sample": 100},
}
PARITY_SAMPLE = 60
REQUEST_CUSTOMERS = 20
REPO_ROOT = Path(__file__).resolve().parents[2]
MINGO = str(Path(sys.executable).with_name("mingo"))

runner = CliRunner()


@dataclass(frozen=True)
class Registry:
    tracking_uri: str
    purchases: pd.DataFrame
    data: Path
    champions: dict[ModelKind, str]

    def env(self, **extra: str) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.tracking_uri, **extra}


def register(kind: ModelKind, purchases: pd.DataFrame, random_state: int) -> str:
    """Train, log, register and promote like the pipeline's steps do; the version."""
    from mingo.config import load_settings
    from mingo.models import api as models
    from mingo.promotion import promote_version
    from mingo.registry import CHAMPION, get_alias_version, log_candidate, register_candidate
    from mingo.tracking import ensure_experiment, mlflow_client

    config = models.ModelConfig(kind=kind, random_state=random_state, **SMALL[kind])
    train, holdout = models.build_datasets(purchases, config)
    trained = models.fit(train, config)
    settings = load_settings()
    logged = log_candidate(
        experiment_id=ensure_experiment(kind, settings),
        trained=trained,
        holdout=holdout,
        params={"random_state": random_state},
        metrics=models.score(trained, holdout),
        baseline={},
        dataset_tags={},
    )
    client = mlflow_client(settings)
    version = register_candidate(client, kind, logged, {})
    promote_version(client, kind, version, get_alias_version(client, kind, CHAMPION))
    return version


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    root = tmp_path_factory.mktemp("scoring-registry")
    purchases = generate_purchases(CUSTOMERS, SEED)
    data = root / "purchases.parquet"
    save_purchases(purchases, str(data))
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINGO_HOME", str(root / "home"))
        patch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
        unset_mlflow_globals(patch)
        assert register("binary", purchases, random_state=1) == "1"
        champions: dict[ModelKind, str] = {"binary": register("binary", purchases, random_state=2)}
        for kind in ("multiclass", "clustering"):
            champions[kind] = register(kind, purchases, random_state=1)
    assert champions == {"binary": "2", "multiclass": "1", "clustering": "1"}
    yield Registry(tracking_uri, purchases, data, champions)


def mingo(*args: str, env: dict[str, str]) -> Result:
    return runner.invoke(app, list(args), env=env)


def summary_of(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, "no stdout"
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed


def service_rows(
    kind: ModelKind,
    tracking_uri: str,
    version: str | None,
    purchases: pd.DataFrame,
    customers: list[str],
    as_of: date,
) -> pd.DataFrame:
    """What the prediction service's core answers for `customers`, as output rows."""
    source = PinnedVersion(version) if version is not None else ChampionAlias()
    predictor = ChampionPredictor(kind, ModelLoader(kind, tracking_uri, source))
    predictor.reload()
    frame = purchases.loc[purchases[schema.DATE].dt.date <= as_of].copy()
    frame[schema.DATE] = frame[schema.DATE].dt.strftime("%Y-%m-%d")
    histories: dict[str, list[dict[str, Any]]] = {c: [] for c in customers}
    for record in frame.to_dict("records"):
        customer = str(record.pop(schema.CUSTOMER_ID))
        if customer in histories:
            histories[customer].append(record)
    tables = []
    for start in range(0, len(customers), REQUEST_CUSTOMERS):
        batch = customers[start : start + REQUEST_CUSTOMERS]
        request = PredictRequest.model_validate(
            {
                "customers": [{"customer_id": c, "purchases": histories[c]} for c in batch],
                "as_of": as_of.isoformat(),
            }
        )
        answer = predictor.predict(request).model_dump()
        tables.append(
            prediction_table(
                kind, answer["model"], answer["model_version"], as_of, answer["predictions"]
            )
        )
    return pa.concat_tables(tables).to_pandas().set_index("customer_id")


def assert_same_answers(batch: pd.DataFrame, served: pd.DataFrame) -> None:
    """Rows of the batch for the served customers equal the service's answers."""
    mine = batch.set_index("customer_id").loc[served.index]
    pd.testing.assert_frame_equal(mine, served, check_exact=False, rtol=1e-12, atol=1e-12)


def sample(ids: pd.Series, count: int = PARITY_SAMPLE) -> list[str]:
    return [str(c) for c in ids.sample(min(count, len(ids)), random_state=0)]


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_every_customer_is_scored_by_the_champion_as_the_service_answers(
    registry: Registry, kind: ModelKind, tmp_path: Path
) -> None:
    out = tmp_path / f"{kind}.parquet"
    result = mingo(
        "score", kind, "--data", str(registry.data), "--out", str(out), env=registry.env()
    )
    assert result.exit_code == 0, result.output
    summary = summary_of(result.stdout)
    last_day = registry.purchases[schema.DATE].max().date()
    customers = registry.purchases[schema.CUSTOMER_ID].nunique()
    assert set(summary) >= {"model", "model_version", "as_of", "customers", "out", "seconds"}
    assert summary["model"] == f"mingo-{kind}"
    assert summary["model_version"] == registry.champions[kind]
    assert summary["as_of"] == last_day.isoformat()
    assert (summary["customers"], summary["unscored_customers"]) == (customers, 0)
    assert summary["out"] == str(out)
    assert "customers" in result.stderr  # the progress bar

    scores = pd.read_parquet(out)
    assert list(scores.columns) == output_columns(kind)
    assert len(scores) == customers and scores["customer_id"].is_unique
    assert set(scores["model_version"]) == {registry.champions[kind]}
    assert set(scores["as_of"]) == {last_day}
    served = service_rows(
        kind,
        registry.tracking_uri,
        None,
        registry.purchases,
        sample(scores["customer_id"]),
        last_day,
    )
    assert_same_answers(scores, served)


def test_a_pinned_version_scores_with_that_version_not_the_champion(
    registry: Registry, tmp_path: Path
) -> None:
    pinned, champion = tmp_path / "v1.parquet", tmp_path / "champion.parquet"
    data = str(registry.data)
    env = registry.env()
    first = mingo(
        "score", "binary", "--data", data, "--out", str(pinned), "--version", "1", env=env
    )
    assert first.exit_code == 0, first.output
    assert summary_of(first.stdout)["model_version"] == "1"
    second = mingo("score", "binary", "--data", data, "--out", str(champion), env=env)
    assert summary_of(second.stdout)["model_version"] == "2"

    v1, v2 = pd.read_parquet(pinned), pd.read_parquet(champion)
    assert set(v1["model_version"]) == {"1"}
    assert (v1["probability"] != v2["probability"]).any(), "the two versions score alike"
    last_day = registry.purchases[schema.DATE].max().date()
    customers = sample(v1["customer_id"], 30)
    served = service_rows(
        "binary", registry.tracking_uri, "1", registry.purchases, customers, last_day
    )
    assert_same_answers(v1, served)

    missing = mingo(
        "score",
        "binary",
        "--data",
        data,
        "--out",
        str(tmp_path / "x.parquet"),
        "--version",
        "9",
        env=env,
    )
    assert missing.exit_code == 1
    assert "mingo-binary/9" in missing.stderr
    assert not (tmp_path / "x.parquet").exists()


def test_as_of_in_the_past_skips_customers_without_history_and_ignores_later_purchases(
    registry: Registry, tmp_path: Path
) -> None:
    purchases = registry.purchases
    first_purchase = purchases.groupby(schema.CUSTOMER_ID)[schema.DATE].min().dt.date
    as_of = sorted(first_purchase)[len(first_purchase) * 2 // 3]
    with_history = first_purchase[first_purchase <= as_of].index
    later = purchases.loc[purchases[schema.DATE].dt.date > as_of, schema.CUSTOMER_ID]
    assert later.isin(with_history).any(), "some scored customer must have later purchases"

    out = tmp_path / "past.parquet"
    result = mingo(
        "score",
        "multiclass",
        "--data",
        str(registry.data),
        "--as-of",
        as_of.isoformat(),
        "--out",
        str(out),
        env=registry.env(),
    )
    assert result.exit_code == 0, result.output
    summary = summary_of(result.stdout)
    assert summary["as_of"] == as_of.isoformat()
    assert summary["customers"] == len(with_history)
    assert summary["unscored_customers"] == len(first_purchase) - len(with_history)
    assert "not scored" in result.stderr

    scores = pd.read_parquet(out)
    assert set(scores["customer_id"]) == set(with_history)
    assert set(scores["as_of"]) == {as_of}
    customers = sample(later.loc[later.isin(with_history)].drop_duplicates(), 40)
    served = service_rows("multiclass", registry.tracking_uri, None, purchases, customers, as_of)
    assert_same_answers(scores, served)


def test_chunks_do_not_change_the_scores(registry: Registry, tmp_path: Path) -> None:
    loader = ModelLoader("clustering", registry.tracking_uri, ChampionAlias())
    champion = loader.load()
    whole = score_purchases(champion, registry.purchases, str(tmp_path / "whole.parquet"))
    chunked = score_purchases(
        champion, registry.purchases, str(tmp_path / "chunked.parquet"), chunk_customers=7
    )
    assert whole.customers == chunked.customers == CUSTOMERS
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "whole.parquet"), pd.read_parquet(tmp_path / "chunked.parquet")
    )


def test_bad_data_exits_2_naming_column_and_row(registry: Registry, tmp_path: Path) -> None:
    bad = registry.purchases.copy()
    bad[schema.GMV] = bad[schema.GMV].astype(object)
    bad.loc[3, schema.GMV] = "lots"
    path = tmp_path / "bad.csv"
    bad.assign(**{schema.DATE: bad[schema.DATE].dt.strftime("%Y-%m-%d")}).to_csv(path, index=False)
    out = tmp_path / "never.parquet"
    result = mingo("score", "binary", "--data", str(path), "--out", str(out), env=registry.env())
    assert result.exit_code == 2, result.output
    assert "column 'gmv_success'" in result.stderr
    assert "first rows 4" in result.stderr  # 1-based data row of index 3
    assert "Traceback" not in result.output
    assert not out.exists()

    no_parquet = mingo(
        "score",
        "binary",
        "--data",
        str(registry.data),
        "--out",
        str(tmp_path / "scores.csv"),
        env=registry.env(),
    )
    assert no_parquet.exit_code == 2
    assert ".parquet" in no_parquet.stderr


def test_no_champion_exits_1(tmp_path: Path) -> None:
    data = tmp_path / "purchases.parquet"
    save_purchases(generate_purchases(30, 1), str(data))
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'empty.db'}"}
    result = mingo(
        "score", "binary", "--data", str(data), "--out", str(tmp_path / "o.parquet"), env=env
    )
    assert result.exit_code == 1
    assert "mingo-binary@champion" in result.stderr


def test_the_command_reads_and_writes_s3(
    registry: Registry, s3_server: S3Server, tmp_path: Path
) -> None:
    """The real `mingo` executable, as a DAG task runs it: data and scores on S3."""
    bucket = s3_server.make_bucket("mingo-scores")
    s3_server.client().fput_object(bucket, "data/purchases.parquet", str(registry.data))
    data = f"s3://{bucket}/data/purchases.parquet"
    out = f"s3://{bucket}/scores/clustering/{date.today()}.parquet"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLFLOW_", "MINGO_", "AWS_"))
    }
    env.update(
        registry.env(),
        MINGO_HOME=str(tmp_path / "home"),
        MINGO_S3_ENDPOINT_URL=s3_server.endpoint_url,
        OMP_NUM_THREADS="1",
        **{k: v for k, v in s3_server.env().items() if k.startswith("AWS_")},
    )
    result = subprocess.run(
        [MINGO, "score", "clustering", "--data", data, "--out", out],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = summary_of(result.stdout)
    assert summary["out"] == out and summary["model_version"] == registry.champions["clustering"]
    assert "customers" in result.stderr

    local = tmp_path / "scores.parquet"
    s3_server.client().fget_object(bucket, out.split("/", 3)[3], str(local))
    scores = pd.read_parquet(local)
    assert len(scores) == summary["customers"] == CUSTOMERS
    last_day = registry.purchases[schema.DATE].max().date()
    served = service_rows(
        "clustering",
        registry.tracking_uri,
        None,
        registry.purchases,
        sample(scores["customer_id"], 30),
        last_day,
    )
    assert_same_answers(scores, served)


def test_as_of_before_any_purchase_scores_no_one(registry: Registry, tmp_path: Path) -> None:
    first_day = registry.purchases[schema.DATE].min().date()
    out = tmp_path / "empty.parquet"
    result = mingo(
        "score",
        "binary",
        "--data",
        str(registry.data),
        "--out",
        str(out),
        "--as-of",
        (first_day - timedelta(days=1)).isoformat(),
        env=registry.env(),
    )
    assert result.exit_code == 0, result.output
    summary = summary_of(result.stdout)
    assert (summary["customers"], summary["unscored_customers"]) == (0, CUSTOMERS)
    scores = pd.read_parquet(out)
    assert list(scores.columns) == output_columns("binary") and scores.empty
