"""The demo's serving half on real processes: three `mingo serve` services on a real embedded
registry, real HTTP predictions printed for all three, a reload to a newly promoted
champion, and a teardown that leaves no process behind.

The champions are trained in-process through mingo.models and registered through
mingo.registry and mingo.promotion (the same functions the pipeline's steps call); the
ZenML pipeline itself is exercised by `mingo demo` and the pipeline tests.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psutil
import pytest
from rich.console import Console

from mingo import MODEL_KINDS, ModelKind
from mingo.cli.demo import console as show
from mingo.cli.demo.predictions import sample_customers
from mingo.cli.demo.scenario import ask_all, child_environment
from mingo.cli.demo.snapshots import DemoData, Snapshot
from mingo.config import load_settings
from mingo.data.generate import generate_purchases
from mingo.deploy.local import reload_local_service
from mingo.models import api as models
from mingo.promotion import promote_version
from mingo.registry import CHAMPION, get_alias_version, log_candidate, register_candidate
from mingo.serving.process import LocalService, free_local_port, wait_until_ready
from mingo.tracking import ensure_experiment, mlflow_client

CUSTOMERS = 400
READY_TIMEOUT_S = 240
SMALL: dict[ModelKind, dict[str, Any]] = {
    "binary": {},
    "multiclass": {},
    "clustering": {"n_clusters": 3, "silhouette_sample": 100},
}


def register_champion(kind: ModelKind, purchases: pd.DataFrame, random_state: int) -> str:
    config = models.ModelConfig(kind=kind, random_state=random_state, **SMALL[kind])
    train, holdout = models.build_datasets(purchases, config)
    trained = models.fit(train, config)
    logged = log_candidate(
        experiment_id=ensure_experiment(kind, load_settings()),
        trained=trained,
        holdout=holdout,
        params={"random_state": random_state},
        metrics=models.score(trained, holdout),
        baseline={},
        dataset_tags={},
    )
    client = mlflow_client(load_settings())
    version = register_candidate(client, kind, logged, {})
    promote_version(client, kind, version, get_alias_version(client, kind, CHAMPION))
    return version


def process_group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_services_answer_for_all_three_then_reload_to_the_new_champion(
    isolated_mingo_home: Path, tmp_path: Path
) -> None:
    purchases = generate_purchases(CUSTOMERS, seed=9)
    for kind in MODEL_KINDS:
        assert register_champion(kind, purchases, random_state=1) == "1"
    as_of = purchases["date_purchase"].max().date()
    snapshot = Snapshot(path=tmp_path / "unused.csv", end=as_of, rows=len(purchases), customers=0)
    data = DemoData(purchases=purchases, first=snapshot, second=snapshot)
    customers = sample_customers(purchases, as_of, 3)

    services = [
        LocalService(kind, free_local_port(), tmp_path / f"serve-{kind}.log")
        for kind in MODEL_KINDS
    ]
    started: list[list[psutil.Process]] = []
    try:
        env = child_environment(isolated_mingo_home)
        for service in services:
            service.start(env)
        wait_until_ready(services, READY_TIMEOUT_S)

        answers = ask_all(services, data, customers, as_of)
        printed = Console(record=True, width=200, file=io.StringIO())
        printed.print(show.answers_table("Predictions", answers))
        text = printed.export_text()
        for answer in answers:
            assert answer.model_version == "1"
            assert [p["customer_id"] for p in answer.predictions] == customers
        for kind in MODEL_KINDS:
            assert text.count(f"{kind} ") >= len(customers), text
        for customer in customers:
            assert text.count(show.short(customer)) == len(MODEL_KINDS), text
        assert "P(buys in 30 days)" in text and "segment " in text and "p=" in text

        # The next scheduled run promotes a new binary champion; reload is what serves it.
        new_version = register_champion("binary", purchases, random_state=2)
        binary = services[MODEL_KINDS.index("binary")]
        assert reload_local_service(binary.url, expected_version=new_version) == new_version
        again = ask_all(services, data, customers, as_of)
        versions = {answer.kind: answer.model_version for answer in again}
        assert versions == {"binary": new_version, "multiclass": "1", "clustering": "1"}
        # BentoML's workers live in sessions of their own: stop() must find them too.
        started = [
            psutil.Process(service.process.pid).children(recursive=True)
            for service in services
            if service.process is not None
        ]
        assert all(started), "every service runs at least one worker process"
    finally:
        for service in services:
            service.stop()
    for service, workers in zip(services, started, strict=True):
        assert service.process is not None and service.process.poll() is not None
        assert not process_group_alive(service.process.pid), f"{service.kind} left processes"
        alive = [w.pid for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"{service.kind} left workers {alive}"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{service.url}/livez", timeout=5)
