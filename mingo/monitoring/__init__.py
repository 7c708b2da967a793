"""Monitoring of the served models: what was predicted, and how it turned out.

The prediction services import `mingo.monitoring.prediction_log`, which runs this file first;
their image carries only that module of the package (see the bentofiles). So the monitor's
names are imported on first use (PEP 562), never when the package is: an eager import here
would load the registry and the monitor into every service worker, and break the Bento.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mingo.monitoring.monitor import MonitorConfig, read_monitor_result
    from mingo.monitoring.result import MonitorResult

__all__ = ["MonitorConfig", "MonitorResult", "read_monitor_result"]

_LAZY = {
    "MonitorConfig": "mingo.monitoring.monitor",
    "read_monitor_result": "mingo.monitoring.monitor",
    "MonitorResult": "mingo.monitoring.result",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
