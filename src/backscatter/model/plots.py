"""ROC, precision-recall and reliability (calibration) curves as PNG files (matplotlib,
headless, imported on first use).

Each plot names the model (file stem), says that spoofed is the positive class, marks the
operating threshold (the point the verdicts come from, not just the curve), and draws what
chance would give: the ROC diagonal, and on the PR plot the share of spoofed mail (a
classifier guessing at random has that precision at every recall).

The reliability diagram is there because the detector reports a probability, not just a
ranking: ROC AUC can be perfect while "0.9 spoofed" is right only half the time. Binned
mean predicted probability against the observed share of spoofed mail shows whether the
number means what it says on the user's own mail.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CALIBRATION_BINS = 10
FILES = ("roc.png", "precision_recall.png", "calibration.png")


def _pyplot() -> Any:  # matplotlib.pyplot, imported on first use (start-up cost)
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    return plt


def _operating_point(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float
) -> tuple[float, float, float]:
    """(false-positive rate, recall, precision) of the verdicts at the threshold."""
    called = probabilities >= threshold
    spoofed, genuine = labels == 1, labels == 0
    recall = float(called[spoofed].mean()) if spoofed.any() else 0.0
    fp_rate = float(called[genuine].mean()) if genuine.any() else 0.0
    precision = float(spoofed[called].mean()) if called.any() else 1.0
    return fp_rate, recall, precision


def roc_figure(
    labels: np.ndarray, probabilities: np.ndarray, name: str, threshold: float = 0.5
) -> Figure:
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(5.5, 4.5), dpi=100)
    fpr, tpr, _ = roc_curve(labels, probabilities, pos_label=1)
    auc = roc_auc_score(labels, probabilities)
    axes.plot(fpr, tpr, label=f"{name} (ROC AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance (AUC 0.5)")
    x, y, _ = _operating_point(labels, probabilities, threshold)
    axes.plot([x], [y], "o", color="red", label=f"threshold {threshold:.2f}")
    axes.set_xlabel("False-positive rate: genuine called spoofed")
    axes.set_ylabel("True-positive rate: spoofed caught")
    axes.set_title(f"ROC: {name} (positive class: spoofed)")
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def precision_recall_figure(
    labels: np.ndarray, probabilities: np.ndarray, name: str, threshold: float = 0.5
) -> Figure:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(5.5, 4.5), dpi=100)
    precision, recall, _ = precision_recall_curve(labels, probabilities, pos_label=1)
    average = average_precision_score(labels, probabilities)
    axes.step(recall, precision, where="post", label=f"{name} (PR AUC {average:.3f})")
    prevalence = float(np.mean(labels == 1))
    axes.axhline(
        prevalence, linestyle="--", color="grey", label=f"chance (share spoofed {prevalence:.2f})"
    )
    _, y, p = _operating_point(labels, probabilities, threshold)
    axes.plot([y], [p], "o", color="red", label=f"threshold {threshold:.2f}")
    axes.set_xlabel("Recall: spoofed caught")
    axes.set_ylabel("Precision: called spoofed that are spoofed")
    axes.set_ylim(0, 1.05)
    axes.set_title(f"Precision-recall: {name} (positive class: spoofed)")
    axes.legend(loc="lower left")
    figure.tight_layout()
    return figure


def calibration_figure(labels: np.ndarray, probabilities: np.ndarray, name: str) -> Figure:
    from sklearn.calibration import calibration_curve

    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(5.5, 4.5), dpi=100)
    observed, predicted = calibration_curve(
        labels, probabilities, n_bins=CALIBRATION_BINS, strategy="uniform"
    )
    axes.plot(predicted, observed, "s-", label=name)
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axes.set_xlabel("Mean predicted probability of spoofed (per bin)")
    axes.set_ylabel("Observed share spoofed (per bin)")
    axes.set_title(f"Reliability: {name} ({CALIBRATION_BINS} bins, positive class: spoofed)")
    axes.legend(loc="upper left")
    figure.tight_layout()
    return figure


def save_curves(
    labels: np.ndarray,
    probabilities: np.ndarray,
    folder: Path,
    name: str = "model",
    threshold: float = 0.5,
) -> list[Path]:
    """roc.png, precision_recall.png and calibration.png in ``folder``."""
    if len(set(np.asarray(labels).tolist())) < 2:
        from backscatter.errors import BackscatterError

        raise BackscatterError("plots need both genuine and spoofed messages")
    plt = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    figures = (
        roc_figure(labels, probabilities, name, threshold),
        precision_recall_figure(labels, probabilities, name, threshold),
        calibration_figure(labels, probabilities, name),
    )
    written = []
    for file_name, figure in zip(FILES, figures, strict=True):
        figure.savefig(folder / file_name)
        plt.close(figure)
        written.append(folder / file_name)
    return written
