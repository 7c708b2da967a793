"""ZenML set up under MINGO_HOME, once: the equivalent of `zenml init`, idempotent.

Call `prepare_zenml` before anything imports zenml: ZenML reads its paths from the
environment when it is first imported. Steps read the settings of their process through
`step_settings` (loaded once per process, never passed as a pipeline parameter: they hold
credentials).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from functools import cache
from pathlib import Path

from mingo.config import Settings, load_settings
from mingo.tracking import (
    ZENML_ROOT_DIRNAME,
    ZENML_S3_ARTIFACT_STORE,
    ZENML_S3_STACK,
    apply_zenml_environment,
    zenml_artifact_store_config,
)

# Step code is resolved relative to the directory that holds the `zenml_pipelines` package,
# not relative to the ZenML repository (which lives under MINGO_HOME).
SOURCE_ROOT = Path(__file__).resolve().parent.parent
# ZenML's own names: the stack every store starts with, and its local orchestrator.
DEFAULT_STACK = "default"
DEFAULT_ORCHESTRATOR = "default"
S3_FLAVOR = "s3"
# The keys of the artifact store's configuration that MinGo sets (a key absent from the
# wanted configuration is removed from the stored one).
MANAGED_ARTIFACT_STORE_KEYS = ("path", "client_kwargs")


@cache
def step_settings() -> Settings:
    """The settings of the process a step runs in, read from its environment once."""
    return load_settings()


def prepare_zenml(settings: Settings) -> Settings:
    """Point ZenML at MINGO_HOME (or ZENML_STORE_URL) and initialise its repository once."""
    apply_zenml_environment(settings)
    os.environ["ZENML_CUSTOM_SOURCE_ROOT"] = str(SOURCE_ROOT)

    from zenml.client import Client
    from zenml.utils import source_utils

    source_utils.set_custom_source_root(str(SOURCE_ROOT))
    repository = settings.home / ZENML_ROOT_DIRNAME / "repository"
    # Two processes starting at once on a fresh MINGO_HOME must not both run the init.
    with (settings.home / ZENML_ROOT_DIRNAME / "init.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if not Client.is_repository_directory(repository):
            Client.initialize(root=repository)
        activate_artifact_store(settings)
    return settings


def activate_artifact_store(settings: Settings) -> None:
    """Make the active stack store artifacts where the settings say, idempotently.

    With MINGO_ZENML_ARTIFACT_URI: register (or update) the S3 artifact store and a stack
    with ZenML's local orchestrator around it, and activate that stack. Without: go back to
    the default stack if MinGo's S3 stack was the active one (a stack chosen by hand stays).
    """
    from zenml.client import Client
    from zenml.enums import StackComponentType
    from zenml.exceptions import EntityExistsError

    client = Client()
    wanted = zenml_artifact_store_config(settings)
    if wanted is None:
        if client.active_stack_model.name == ZENML_S3_STACK:
            client.activate_stack(DEFAULT_STACK)
        return

    store_type = StackComponentType.ARTIFACT_STORE
    try:
        store = client.get_stack_component(
            store_type, ZENML_S3_ARTIFACT_STORE, allow_name_prefix_match=False
        )
    except KeyError:
        # Another process (a pod on the same ZenML server) may register it first.
        with contextlib.suppress(EntityExistsError):
            client.create_stack_component(
                name=ZENML_S3_ARTIFACT_STORE,
                flavor=S3_FLAVOR,
                component_type=store_type,
                configuration=wanted,
            )
    else:
        stored = {key: store.configuration.get(key) for key in MANAGED_ARTIFACT_STORE_KEYS}
        update = {key: wanted.get(key) for key in MANAGED_ARTIFACT_STORE_KEYS}
        if stored != update:
            # None removes a key: ZenML merges an update into the stored configuration.
            client.update_stack_component(ZENML_S3_ARTIFACT_STORE, store_type, configuration=update)

    try:
        client.get_stack(ZENML_S3_STACK, allow_name_prefix_match=False)
    except KeyError:
        with contextlib.suppress(EntityExistsError):
            client.create_stack(
                name=ZENML_S3_STACK,
                components={
                    StackComponentType.ORCHESTRATOR: DEFAULT_ORCHESTRATOR,
                    store_type: ZENML_S3_ARTIFACT_STORE,
                },
            )
    # Always: activating also refreshes the stack this process keeps in memory, which would
    # otherwise still hold the artifact store's configuration from before an update.
    client.activate_stack(ZENML_S3_STACK)
