"""Rendered objects of charts/mingo-prediction, once per values file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.k8s.helm import CHART_DIR, render_chart

VALUES_FILES: dict[str, list[Path]] = {
    "values.yaml": [],
    "values-kind.yaml": [CHART_DIR / "values-kind.yaml"],
}


@dataclass(frozen=True)
class RenderedChart:
    values_name: str
    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        matches = [obj for obj in self.of_kind(kind) if obj["metadata"]["name"] == name]
        assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
        return matches[0]


@pytest.fixture(scope="session", params=sorted(VALUES_FILES))
def rendered(request: pytest.FixtureRequest) -> RenderedChart:
    values_name = str(request.param)
    return RenderedChart(values_name, render_chart(VALUES_FILES[values_name]))
