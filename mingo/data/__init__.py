"""ClickBus purchase data: schema, loading (local or s3://), validation, synthetic generation.

The main entry points are re-exported here and imported on first use, so that
`from mingo.data import schema` stays light (no pandas or pyarrow import).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mingo.data.errors import DataError, DataValidationError
    from mingo.data.generate import generate_purchases
    from mingo.data.io import load_purchases, save_purchases, validate_purchases_uri
    from mingo.data.validate import ValidationReport, clean_purchases

_EXPORTS: dict[str, str] = {
    "DataError": "mingo.data.errors",
    "DataValidationError": "mingo.data.errors",
    "generate_purchases": "mingo.data.generate",
    "load_purchases": "mingo.data.io",
    "save_purchases": "mingo.data.io",
    "validate_purchases_uri": "mingo.data.io",
    "ValidationReport": "mingo.data.validate",
    "clean_purchases": "mingo.data.validate",
}

__all__ = [
    "DataError",
    "DataValidationError",
    "ValidationReport",
    "clean_purchases",
    "generate_purchases",
    "load_purchases",
    "save_purchases",
    "validate_purchases_uri",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mingo.data' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
