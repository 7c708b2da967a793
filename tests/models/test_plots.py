from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from mingo.models.plots import figures
from tests.models.conftest import Trained

EXPECTED = {
    "binary": {"confusion_matrix", "roc_curve", "pr_curve", "calibration"},
    "multiclass": {"confusion_matrix", "class_distribution", "top_k_accuracy"},
    "clustering": {"cluster_profiles", "segment_sizes"},
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_figures_are_drawn_from_the_holdout(kind: str, request: pytest.FixtureRequest) -> None:
    trained: Trained = request.getfixturevalue(f"{kind}_model")
    drawn = figures(trained.model, trained.holdout)
    try:
        assert set(drawn) == EXPECTED[kind]
        for figure in drawn.values():
            axes = figure.axes[0]
            assert axes.get_title()
            assert axes.lines or axes.images or axes.patches or axes.collections
    finally:
        for figure in drawn.values():
            plt.close(figure)


def test_roc_curve_plots_the_models_auc(binary_model: Trained) -> None:
    from mingo.models import score

    drawn = figures(binary_model.model, binary_model.holdout)
    legend = drawn["roc_curve"].axes[0].get_legend().get_texts()[0].get_text()
    auc = score(binary_model.model, binary_model.holdout)["roc_auc"]
    assert f"{auc:.2f}" in legend
    for figure in drawn.values():
        plt.close(figure)
