"""model/plots.py: each plot names the model, says spoofed is positive, marks the threshold
and draws what chance would give."""

from __future__ import annotations

import numpy as np
import pytest

from backscatter.errors import BackscatterError
from backscatter.model.plots import (
    calibration_figure,
    precision_recall_figure,
    roc_figure,
    save_curves,
)

LABELS = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
SCORES = np.array([0.05, 0.1, 0.2, 0.3, 0.55, 0.6, 0.4, 0.7, 0.8, 0.95])


def _legend(figure) -> list[str]:
    return [text.get_text() for text in figure.axes[0].get_legend().get_texts()]


def _marker(figure) -> tuple[float, float]:
    [line] = [line for line in figure.axes[0].get_lines() if line.get_marker() == "o"]
    return float(line.get_xdata()[0]), float(line.get_ydata()[0])


def test_roc_names_the_model_the_positive_class_chance_and_threshold():
    figure = roc_figure(LABELS, SCORES, "mine", threshold=0.5)
    axes = figure.axes[0]
    assert axes.get_title() == "ROC: mine (positive class: spoofed)"
    assert axes.get_xlabel() == "False-positive rate: genuine called spoofed"
    assert axes.get_ylabel() == "True-positive rate: spoofed caught"
    assert _legend(figure) == ["mine (ROC AUC 0.917)", "chance (AUC 0.5)", "threshold 0.50"]
    assert _marker(figure) == (pytest.approx(2 / 6), pytest.approx(3 / 4))  # at p >= 0.5


def test_precision_recall_baseline_is_the_share_of_spoofed_mail():
    figure = precision_recall_figure(LABELS, SCORES, "mine", threshold=0.5)
    axes = figure.axes[0]
    assert axes.get_title() == "Precision-recall: mine (positive class: spoofed)"
    assert axes.get_xlabel() == "Recall: spoofed caught"
    assert _legend(figure)[1:] == ["chance (share spoofed 0.40)", "threshold 0.50"]
    [chance] = [line for line in axes.get_lines() if line.get_linestyle() == "--"]
    assert set(chance.get_ydata()) == {0.4}
    assert _marker(figure) == (pytest.approx(3 / 4), pytest.approx(3 / 5))  # recall, precision


def test_calibration_plot_is_labelled():
    figure = calibration_figure(LABELS, SCORES, "mine")
    axes = figure.axes[0]
    assert axes.get_title() == "Reliability: mine (10 bins, positive class: spoofed)"
    assert axes.get_xlabel() == "Mean predicted probability of spoofed (per bin)"
    assert axes.get_ylabel() == "Observed share spoofed (per bin)"
    assert _legend(figure) == ["mine", "perfectly calibrated"]


def test_save_curves_writes_three_pngs_and_needs_both_classes(tmp_path):
    written = save_curves(LABELS, SCORES, tmp_path / "out", "mine", 0.5)
    assert [p.name for p in written] == ["roc.png", "precision_recall.png", "calibration.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written)
    with pytest.raises(BackscatterError, match="both genuine and spoofed"):
        save_curves(np.zeros(4, dtype=int), SCORES[:4], tmp_path / "none")
