"""Which model version a prediction service loads, and how it gets the files.

The source of the version is one of three (`ModelSource`), decided once from the settings:

- `PinnedVersion`: the Deployment names the version (`MINGO_MODEL_VERSION=N`, set from the pod
  template's annotation `mingo.io/model-version`); the service loads `models:/mingo-<kind>/N`
  and never reads an alias, so every pod of a Deployment revision serves the same version and
  a rollout undo restores the previous model.
- `ChampionAlias`: nothing pinned (`mingo serve` locally); the alias is resolved to a version
  number first and that number is loaded, so the version a service reports is the version whose
  weights it holds even if the alias moves while the files download.
- `MissingPin`: the variable exists but is empty (a pod template without the annotation): the
  service must not guess, it stays unready and says how to pin a version.

Files are downloaded from MLflow into a directory and loaded from disk; the model's metadata
(its kind) comes from the local MLmodel file. With a cache directory (`MINGO_MODEL_CACHE_DIR`)
a complete copy of the version is reused without contacting MLflow, so a restarted pod whose
version is already on disk does not need the registry.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from mingo import MODEL_VERSION_ANNOTATION, ModelKind, registered_model_name
from mingo.config import redacted
from mingo.models.api import TrainedModel

CHAMPION_ALIAS: Final = "champion"
# Written last into a cache entry: a directory without it is a partial download.
CACHE_MARKER: Final = ".mingo-complete"
# `scheme://user:password@` anywhere in a text (an exception that quotes a URL).
_URL_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+):[^/\s@]+@")


class ChampionUnavailable(RuntimeError):
    """No model could be loaded (none registered, or the registry is unreachable)."""


class NoVersionPinned(ChampionUnavailable):
    """The Deployment pins no version; retrying cannot help until it is rolled."""


@dataclass(frozen=True)
class PinnedVersion:
    version: str


@dataclass(frozen=True)
class ChampionAlias:
    alias: str = CHAMPION_ALIAS


@dataclass(frozen=True)
class MissingPin:
    pass


ModelSource = PinnedVersion | ChampionAlias | MissingPin


def model_source(model_version: str | None) -> ModelSource:
    """None (variable unset): the champion alias; "": no pin; "N": exactly version N."""
    if model_version is None:
        return ChampionAlias()
    if model_version == "":
        return MissingPin()
    return PinnedVersion(model_version)


def missing_pin_message(kind: ModelKind) -> str:
    return (
        f"no model version pinned in the Deployment (annotation {MODEL_VERSION_ANNOTATION}): "
        f"run `mingo deploy roll {kind}`"
    )


def pinned_reload_message(kind: ModelKind, version: str) -> str:
    return (
        f"version {version} of {registered_model_name(kind)} is pinned by the Deployment "
        f"(annotation {MODEL_VERSION_ANNOTATION}); a reload cannot change it: "
        f"`mingo deploy roll {kind} --version V` moves it"
    )


def without_secrets(text: str, tracking_uri: str) -> str:
    """`text` with the tracking URI's password and any URL's password replaced by ***."""
    text = text.replace(tracking_uri, redacted(tracking_uri))
    text = _URL_USERINFO.sub(r"\g<head>:***@", text)
    password = _password_of(tracking_uri)
    return text.replace(password, "***") if password else text


def _password_of(uri: str) -> str | None:
    from urllib.parse import unquote, urlsplit

    password = urlsplit(uri).password
    return unquote(password) if password else None


@dataclass(frozen=True)
class LoadedChampion:
    kind: ModelKind
    name: str
    version: str
    model: TrainedModel


@dataclass(frozen=True)
class ModelCache:
    """`root/<registered name>/<version>/` holds a version's MLflow model files."""

    root: Path

    def entry(self, name: str, version: str) -> Path:
        return self.root / name / version

    def complete_entry(self, name: str, version: str) -> Path | None:
        entry = self.entry(name, version)
        return entry if (entry / CACHE_MARKER).is_file() else None

    def fill(self, name: str, version: str, download_into: DownloadInto) -> Path:
        """Download into a temporary sibling, mark it complete, then rename it into place.

        The rename is atomic, so a reader (another worker, a later pod start) sees either no
        entry or a complete one; a leftover without the marker is replaced.
        """
        entry = self.entry(name, version)
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=entry.parent))
        try:
            download_into(staging)
            (staging / CACHE_MARKER).write_text(f"{name} {version}\n")
            if entry.exists() and self.complete_entry(name, version) is None:
                shutil.rmtree(entry)
            try:
                os.rename(staging, entry)
            except OSError:
                # Another worker finished the same version first: keep its copy.
                if self.complete_entry(name, version) is None:
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return entry


class DownloadInto:
    """Downloads one model version's files into a directory (a callable).

    The version's download location is asked of the registry and read with an artifact
    repository built for this tracking URI: MLflow's `models:/` resolution would go through the
    process-wide registry URI, which a library must not change behind its caller's back.
    """

    def __init__(self, tracking_uri: str, name: str, version: str) -> None:
        self.tracking_uri = tracking_uri
        self.name = name
        self.version = version

    def __call__(self, directory: Path) -> None:
        import mlflow.artifacts
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        location = client.get_model_version_download_uri(self.name, self.version)
        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=location, dst_path=str(directory), tracking_uri=self.tracking_uri
            )
        )
        if local.resolve() != directory.resolve():
            # The MLmodel file must sit at the top of the entry.
            for item in local.iterdir():
                shutil.move(str(item), directory / item.name)
            if local.is_dir() and not any(local.iterdir()):
                local.rmdir()


class ModelLoader:
    """Loads the version `source` names from the registry at `tracking_uri` (a callable)."""

    def __init__(
        self,
        kind: ModelKind,
        tracking_uri: str,
        source: ModelSource,
        cache: ModelCache | None = None,
    ) -> None:
        self.kind = kind
        self.name = registered_model_name(kind)
        self.tracking_uri = tracking_uri
        self.source = source
        self.cache = cache

    def __call__(self) -> LoadedChampion:
        return self.load()

    def load(self) -> LoadedChampion:
        version = self._version()
        cached = self.cache.complete_entry(self.name, version) if self.cache else None
        if cached is not None:
            return self._from_disk(version, cached)
        download = DownloadInto(self.tracking_uri, self.name, version)
        try:
            if self.cache is not None:
                return self._from_disk(version, self.cache.fill(self.name, version, download))
            with tempfile.TemporaryDirectory(prefix=f"{self.name}-{version}-") as scratch:
                download(Path(scratch))
                return self._from_disk(version, Path(scratch))
        except ChampionUnavailable:
            raise
        except Exception as error:
            # `from None`: the original exception's text may quote the password.
            raise self._unavailable(
                f"could not download models:/{self.name}/{version}", error
            ) from None

    def _version(self) -> str:
        match self.source:
            case MissingPin():
                raise NoVersionPinned(missing_pin_message(self.kind))
            case PinnedVersion(version=version):
                return version
            case ChampionAlias(alias=alias):
                return self._resolve_alias(alias)

    def _resolve_alias(self, alias: str) -> str:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        # An unreachable registry surfaces as many exception types (HTTP, SQL, S3 clients); to
        # a service they all mean the same: no model now, keep whatever is already loaded.
        try:
            return str(client.get_model_version_by_alias(self.name, alias).version)
        except Exception as error:
            raise self._unavailable(f"no {self.name}@{alias} in the registry", error) from None

    def _from_disk(self, version: str, directory: Path) -> LoadedChampion:
        import mlflow.sklearn
        from mlflow.models import Model

        uri = f"models:/{self.name}/{version}"
        try:
            metadata = dict(Model.load(str(directory / "MLmodel")).metadata or {})
            estimator = mlflow.sklearn.load_model(str(directory))
        except Exception as error:
            raise self._unavailable(f"could not load {uri} from {directory}", error) from None
        if metadata.get("kind") != self.kind:
            raise ChampionUnavailable(
                f"{uri} declares kind {metadata.get('kind')!r} in its metadata, "
                f"expected {self.kind!r}"
            )
        return LoadedChampion(
            kind=self.kind,
            name=self.name,
            version=version,
            model=TrainedModel(kind=self.kind, estimator=estimator, metadata=metadata),
        )

    def _unavailable(self, what: str, error: Exception) -> ChampionUnavailable:
        # MLflow's and requests' messages may quote the tracking URL with its password.
        message = f"{what} (MLflow at {redacted(self.tracking_uri)}): {error}"
        return ChampionUnavailable(without_secrets(message, self.tracking_uri))


def load_champion(kind: ModelKind, tracking_uri: str) -> LoadedChampion:
    """Load the current champion of `kind` from the MLflow registry at `tracking_uri`."""
    return ModelLoader(kind, tracking_uri, ChampionAlias()).load()
