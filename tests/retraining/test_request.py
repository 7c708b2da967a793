"""The request of one retraining: validated once, recorded whole, light to import."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from mingo.retraining.request import TRIGGER_REASON_MAX_CHARS, RetrainRequest
from mingo.tags import REQUEST_TAG_PREFIX


@pytest.mark.parametrize(
    ("field", "value"),
    [("min_absolute_margin", -0.1), ("min_absolute_margin", 1.5), ("horizon_days", 0)],
)
def test_out_of_range_values_are_refused_by_name(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        RetrainRequest(kind="binary", **{field: value})  # type: ignore[arg-type]


def test_a_trigger_reason_longer_than_a_tag_holds_is_refused_by_name() -> None:
    assert RetrainRequest(kind="binary", trigger_reason="drift").trigger_reason == "drift"
    with pytest.raises(ValidationError, match="trigger_reason"):
        RetrainRequest(kind="binary", trigger_reason="x" * (TRIGGER_REASON_MAX_CHARS + 1))


def test_unknown_fields_and_kinds_are_refused() -> None:
    with pytest.raises(ValidationError, match="promotion_margin"):
        RetrainRequest(kind="binary", promotion_margin=0.1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="kind"):
        RetrainRequest(kind="regression")  # type: ignore[arg-type]


def test_every_field_becomes_a_tag() -> None:
    request = RetrainRequest(kind="binary", min_absolute_margin=0.02, dry_run=True)
    tags = request.as_tags()
    assert set(tags) == {f"{REQUEST_TAG_PREFIX}{name}" for name in RetrainRequest.model_fields}
    assert tags[f"{REQUEST_TAG_PREFIX}min_absolute_margin"] == "0.02"
    assert tags[f"{REQUEST_TAG_PREFIX}dry_run"] == "True"
    assert tags[f"{REQUEST_TAG_PREFIX}cutoff"] == ""
    assert tags[f"{REQUEST_TAG_PREFIX}trigger_reason"] == ""


def test_the_request_module_imports_nothing_heavy() -> None:
    # The DAG files import it while the scheduler parses them.
    probe = (
        "import sys, mingo.retraining.request\n"
        "heavy = [m for m in ('pandas', 'sklearn', 'mlflow', 'numpy') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
