"""Which version a service loads and where the files come from, without BentoML: the
settings, the ModelSource they give, the loader against a real MLflow registry, the cache."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from mingo.config import load_settings
from mingo.serving.champion import (
    CACHE_MARKER,
    ChampionAlias,
    ChampionUnavailable,
    MissingPin,
    ModelCache,
    ModelLoader,
    NoVersionPinned,
    PinnedVersion,
    model_source,
    without_secrets,
)
from tests.fixtures.mlflow_globals import unset_mlflow_globals
from tests.fixtures.services import MlflowServer, free_loopback_port
from tests.serving.conftest import ChampionRegistry

# What the chart sets so that a pod gives up on an unreachable MLflow in bounded time
# (MLflow's defaults: 7 retries, backoff factor 2, 120 s per request).
BOUNDED_MLFLOW_HTTP = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
}
# Two attempts of 5 s, a backoff of at most 2 s with its jitter: 12 s; the rest is slack.
BOUNDED_FAILURE_SECONDS = 25.0


@pytest.fixture
def bounded_mlflow_http(monkeypatch: pytest.MonkeyPatch) -> None:
    # MLflow reads these variables at every request.
    for name, value in BOUNDED_MLFLOW_HTTP.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections and never answers: every request waits for its timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://mingo:S3cretTestPassw0rd@127.0.0.1:{listener.getsockname()[1]}"


def test_the_model_version_variable_gives_the_source(tmp_path: Path) -> None:
    def source(environ: dict[str, str]) -> object:
        settings = load_settings({"MINGO_HOME": str(tmp_path), **environ})
        return model_source(settings.model_version)

    assert source({}) == ChampionAlias("champion")
    assert source({"MINGO_MODEL_VERSION": ""}) == MissingPin()
    assert source({"MINGO_MODEL_VERSION": "12"}) == PinnedVersion("12")
    with pytest.raises(ValidationError, match="model_version"):
        source({"MINGO_MODEL_VERSION": "champion"})


def test_the_cache_directory_is_off_unless_set(tmp_path: Path) -> None:
    assert load_settings({"MINGO_HOME": str(tmp_path)}).model_cache_dir is None
    assert (
        load_settings({"MINGO_HOME": str(tmp_path), "MINGO_MODEL_CACHE_DIR": ""}).model_cache_dir
        is None
    )
    settings = load_settings({"MINGO_HOME": str(tmp_path), "MINGO_MODEL_CACHE_DIR": "/c"})
    assert settings.model_cache_dir == Path("/c")


def test_an_empty_pin_never_reaches_the_registry() -> None:
    loader = ModelLoader("binary", "http://127.0.0.1:1", MissingPin())
    with pytest.raises(NoVersionPinned, match=r"mingo deploy roll binary"):
        loader.load()


def test_a_pinned_version_is_cached_then_loaded_without_the_registry(
    champion_registry: ChampionRegistry, tmp_path: Path
) -> None:
    version = champion_registry.versions["binary"]
    cache = ModelCache(tmp_path / "cache")
    first = ModelLoader(
        "binary", champion_registry.tracking_uri, PinnedVersion(version), cache
    ).load()
    entry = cache.entry("mingo-binary", version)
    assert first.version == version
    assert (entry / CACHE_MARKER).is_file()
    assert [p.name for p in entry.parent.iterdir()] == [version]  # no staging left behind

    unreachable = f"http://127.0.0.1:{free_loopback_port()}"
    again = ModelLoader("binary", unreachable, PinnedVersion(version), cache).load()
    assert again.version == version
    assert again.model.metadata == first.model.metadata

    # The kind check reads the local MLmodel: a clustering loader refuses this entry.
    with pytest.raises(ChampionUnavailable, match="declares kind 'binary'"):
        ModelLoader(
            "clustering", unreachable, PinnedVersion(version), ModelCache(tmp_path / "k")
        )._from_disk(version, entry)


@pytest.mark.parametrize("source", [ChampionAlias(), PinnedVersion("1")], ids=["alias", "pinned"])
def test_a_silent_registry_fails_in_bounded_time(
    source: ChampionAlias | PinnedVersion, silent_server: str, bounded_mlflow_http: None
) -> None:
    import mlflow  # noqa: F401  (its import time is not the registry's)

    started = time.monotonic()
    with pytest.raises(ChampionUnavailable) as failure:
        ModelLoader("binary", silent_server, source).load()
    elapsed = time.monotonic() - started
    assert elapsed < BOUNDED_FAILURE_SECONDS, elapsed
    assert elapsed >= 2 * 5 - 1, elapsed  # both attempts waited for the 5 s timeout
    assert "S3cretTestPassw0rd" not in str(failure.value)
    assert "mingo:***@127.0.0.1" in str(failure.value)


def test_a_partial_cache_entry_is_downloaded_again(
    champion_registry: ChampionRegistry, tmp_path: Path, bounded_mlflow_http: None
) -> None:
    version = champion_registry.versions["binary"]
    cache = ModelCache(tmp_path / "cache")
    entry = cache.entry("mingo-binary", version)
    entry.mkdir(parents=True)
    (entry / "MLmodel").write_text("half a file")  # an interrupted download: no marker

    unreachable = f"http://127.0.0.1:{free_loopback_port()}"
    with pytest.raises(ChampionUnavailable, match="could not download"):
        ModelLoader("binary", unreachable, PinnedVersion(version), cache).load()

    loaded = ModelLoader(
        "binary", champion_registry.tracking_uri, PinnedVersion(version), cache
    ).load()
    assert loaded.version == version
    assert (entry / CACHE_MARKER).is_file()
    assert "half a file" not in (entry / "MLmodel").read_text()


def test_secrets_are_removed_from_any_text() -> None:
    uri = "http://alice:S3cret%2Fpw@mlflow:5000"
    text = (
        f"API request to {uri}/api/2.0/mlflow/registered-models/alias failed; "
        "also https://bob:other@host/x and the raw S3cret/pw"
    )
    clean = without_secrets(text, uri)
    assert "S3cret" not in clean
    assert "other" not in clean
    assert "http://alice:***@mlflow:5000/api/2.0" in clean
    assert "https://bob:***@host/x" in clean


def test_a_pinned_version_loads_from_the_production_topology(
    mlflow_server: MlflowServer,
    champion_registry: ChampionRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Basic-auth MLflow server, PostgreSQL, artifacts proxied to S3 (mlflow-artifacts:/)."""
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient

    from mingo.models.api import SKOPS_TRUSTED_TYPES

    unset_mlflow_globals(monkeypatch)
    for name, value in {**mlflow_server.env(), **BOUNDED_MLFLOW_HTTP}.items():
        monkeypatch.setenv(name, value)
    uri = mlflow_server.tracking_uri
    model = champion_registry.models["binary"]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment(f"model-source-{tmp_path.name}")
    run = client.create_run(experiment)
    name = "mingo-binary"
    # The registry URI follows the tracking URI while it is not set: set only the latter, so
    # the tests that follow register where they point.
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run(run_id=run.info.run_id):
            info = mlflow.sklearn.log_model(
                model.estimator,
                name="binary",
                skops_trusted_types=SKOPS_TRUSTED_TYPES,
                metadata=model.metadata,
                pip_requirements=["scikit-learn"],
                registered_model_name=name,
            )
    finally:
        mlflow.set_tracking_uri(previous)
    version = str(info.registered_model_version)
    cache = ModelCache(tmp_path / "cache")
    before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())

    loaded = ModelLoader("binary", uri, PinnedVersion(version), cache).load()

    assert loaded.version == version
    assert loaded.model.metadata["kind"] == "binary"
    assert (cache.entry(name, version) / CACHE_MARKER).is_file()
    # The loader changed no process-wide MLflow setting.
    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == before
