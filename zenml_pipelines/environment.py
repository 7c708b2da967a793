"""ZenML set up under MINGO_HOME, once: the equivalent of `zenml init`, idempotent.

Call `prepare_zenml` before anything imports zenml: ZenML reads its paths from the
environment when it is first imported. Steps read the settings of their process through
`step_settings` (loaded once per process, never passed as a pipeline parameter: they hold
credentials).
"""

from __future__ import annotations

import fcntl
import os
from functools import cache
from pathlib import Path

from mingo.config import Settings, load_settings
from mingo.tracking import ZENML_ROOT_DIRNAME, apply_zenml_environment

# Step code is resolved relative to the directory that holds the `zenml_pipelines` package,
# not relative to the ZenML repository (which lives under MINGO_HOME).
SOURCE_ROOT = Path(__file__).resolve().parent.parent


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
    return settings
