"""`read_decision` reads back exactly what the retraining writes on a version.

The tags are written by the real writer (`mingo.retraining.decision_tags` and the target and
data tags of the registration), into a real MLflow registry (SQLite), so a change on either
side that the reader does not follow fails here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from mingo import ModelKind, registered_model_name
from mingo.models.target import TargetDefinition
from mingo.registry import (
    DecisionNotRecordedError,
    RecordedDecision,
    read_decision,
)
from mingo.retraining.decision import DataIdentity, Decision, decision_tags
from mingo.retraining.request import RetrainRequest
from mingo.tags import DATA_TAG_PREFIX, DECISION_TAG_PREFIX, REQUEST_TAG_PREFIX, TARGET_TAG_PREFIX

KIND: ModelKind = "binary"
TARGET = TargetDefinition(
    kind=KIND, label_window_days=30, candidate_policy=None, feature_schema_version=1
)
IDENTITY = DataIdentity(uri="s3://mingo-data/df_t.csv", rows=1234, sha256="ab" * 32)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowClient]:
    path: Path = tmp_path_factory.mktemp("read-decision") / "mlflow.db"
    mlflow_client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    mlflow_client.create_registered_model(registered_model_name(KIND))
    yield mlflow_client


_sources = itertools.count()


def new_version(client: MlflowClient, tags: dict[str, str]) -> str:
    """A version registered the way the retraining does: data and target tags first."""
    registration_tags = {**IDENTITY.as_tags(), **TARGET.as_tags(TARGET_TAG_PREFIX), **tags}
    version = client.create_model_version(
        registered_model_name(KIND),
        source=f"file:///models/{next(_sources)}",
        tags=registration_tags,
    )
    return str(version.version)


def decision(version: str, **changes: Any) -> Decision:
    fields: dict[str, Any] = {
        "model": registered_model_name(KIND),
        "candidate_version": version,
        "champion_version_before": "1",
        "champion_version_after": version,
        "promoted": True,
        "metric": "f1",
        "candidate_score": 0.4123456789012345,
        "champion_score": 0.38,
        "reason": "f1 0.4123 beats champion 0.3800 by 0.0323 >= 0.0100",
        "champion_status": "scored",
        "judged_against": "champion",
        "candidate_target": TARGET,
        "champion_target": TARGET,
        "absolute_improvement": 0.0323456789012345,
        "relative_improvement": 0.0851,
        "min_absolute_margin": 0.01,
        "min_relative_margin": None,
        "guardrails": [],
        "forced": False,
        "dry_run": False,
        "request": RetrainRequest(kind=KIND, min_absolute_margin=0.01, horizon_days=30),
        "data": IDENTITY.model_copy(update={"cutoff": date(2024, 2, 1)}),
        "mlflow_run_id": None,
        "candidate_metrics": {"f1": 0.4123456789012345},
        "baseline_metrics": {"f1": 0.2},
        "decided_at": datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC),
    }
    return Decision.model_validate({**fields, **changes})


def record(client: MlflowClient, written: Decision) -> str:
    version = new_version(client, {})
    written = written.model_copy(
        update={"candidate_version": version, "champion_version_after": version}
        if written.promoted
        else {"candidate_version": version}
    )
    for key, value in decision_tags(written).items():
        client.set_model_version_tag(registered_model_name(KIND), version, key, value)
    return version


def test_a_promotion_reads_back_field_for_field(client: MlflowClient) -> None:
    written = decision("0")
    version = record(client, written)

    read = read_decision(client, KIND, version)

    assert isinstance(read, RecordedDecision)
    assert read.model == "mingo-binary"
    assert read.candidate_version == version
    assert read.promoted is True
    assert read.forced is False
    assert read.reason == written.reason
    assert read.metric == "f1"
    # Numbers come back exactly (the writer uses repr), not rounded.
    assert read.candidate_score == written.candidate_score
    assert read.champion_score == written.champion_score
    assert read.absolute_improvement == written.absolute_improvement
    assert read.relative_improvement == written.relative_improvement
    # The margin that applied, and what the run asked for.
    assert read.min_absolute_margin == 0.01
    assert read.min_relative_margin is None
    assert read.request["min_absolute_margin"] == "0.01"
    assert read.request["horizon_days"] == "30"
    assert read.request["cutoff"] is None
    assert read.champion_status == "scored"
    assert read.judged_against == "champion"
    assert read.champion_version_before == "1"
    assert read.champion_version_after == version
    assert read.decided_at == written.decided_at
    assert read.data.uri == IDENTITY.uri
    assert read.data.rows == 1234
    assert read.data.sha256 == IDENTITY.sha256
    assert read.data.cutoff == date(2024, 2, 1)
    assert read.target == TARGET


def test_no_champion_and_no_scores_read_as_none(client: MlflowClient) -> None:
    version = record(
        client,
        decision(
            "0",
            promoted=False,
            champion_version_before=None,
            champion_version_after=None,
            champion_score=None,
            absolute_improvement=None,
            relative_improvement=None,
            champion_status="none",
            judged_against="none",
            reason="f1 is not a number",
        ),
    )

    read = read_decision(client, KIND, version)

    assert read.promoted is False
    assert read.champion_version_before is None
    assert read.champion_version_after is None
    assert read.champion_score is None
    assert read.absolute_improvement is None
    assert read.reason == "f1 is not a number"


def test_every_decision_tag_the_writer_emits_is_read(client: MlflowClient) -> None:
    written = decision_tags(decision("0"))
    version = record(client, decision("0"))

    read = read_decision(client, KIND, version).model_dump()

    decision_keys = {
        k[len(DECISION_TAG_PREFIX) :] for k in written if k.startswith(DECISION_TAG_PREFIX)
    }
    data_keys = {k[len(DATA_TAG_PREFIX) :] for k in written if k.startswith(DATA_TAG_PREFIX)}
    request_keys = {
        k[len(REQUEST_TAG_PREFIX) :] for k in written if k.startswith(REQUEST_TAG_PREFIX)
    }
    assert decision_keys <= set(read), decision_keys - set(read)
    assert data_keys <= set(read["data"]), data_keys - set(read["data"])
    assert request_keys == set(read["request"]), request_keys ^ set(read["request"])
    families = (DECISION_TAG_PREFIX, DATA_TAG_PREFIX, REQUEST_TAG_PREFIX)
    unknown = [k for k in written if not k.startswith(families)]
    assert unknown == [], "the writer emits a tag family the reader does not know"


def test_a_new_decision_tag_needs_no_reader_change(client: MlflowClient) -> None:
    version = record(client, decision("0"))
    name = registered_model_name(KIND)
    client.set_model_version_tag(name, version, f"{DECISION_TAG_PREFIX}promotion_margin", "0.02")
    client.set_model_version_tag(name, version, f"{DECISION_TAG_PREFIX}note", "")

    read = read_decision(client, KIND, version)

    assert read.model_extra == {"promotion_margin": "0.02", "note": None}
    assert read.model_dump()["promotion_margin"] == "0.02"


def test_other_mingo_tags_stay_out_of_the_decision(client: MlflowClient) -> None:
    version = record(client, decision("0"))
    client.set_model_version_tag(
        registered_model_name(KIND), version, "mingo.replaced_version", "1"
    )

    assert read_decision(client, KIND, version).model_extra == {}


def test_an_undecided_version_is_named(client: MlflowClient) -> None:
    version = new_version(client, {})

    with pytest.raises(DecisionNotRecordedError, match=f"mingo-binary version {version} carries"):
        read_decision(client, KIND, version)


def test_a_missing_version_is_a_lookup_error(client: MlflowClient) -> None:
    with pytest.raises(LookupError, match="mingo-binary has no version 999"):
        read_decision(client, KIND, "999")
