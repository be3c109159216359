"""ROC, precision-recall and reliability (calibration) curves as PNG files (matplotlib,
headless).

The reliability diagram is there because the detector reports a probability, not just a
ranking: ROC AUC can be perfect while "0.9 spoofed" is right only half the time. Binned
mean predicted probability against the observed share of spoofed mail shows whether the
number means what it says on the user's own mail.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CALIBRATION_BINS = 10


def save_curves(labels: np.ndarray, probabilities: np.ndarray, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, display in (
        ("roc.png", RocCurveDisplay),
        ("precision_recall.png", PrecisionRecallDisplay),
    ):
        figure, axes = plt.subplots(figsize=(5, 4), dpi=100)
        display.from_predictions(labels, probabilities, ax=axes, name="backscatter")
        axes.set_title(
            name.removesuffix(".png").replace("_", "-").upper() + " (spoofed = positive)"
        )
        figure.tight_layout()
        figure.savefig(folder / name)
        plt.close(figure)
        written.append(folder / name)
    figure, axes = plt.subplots(figsize=(5, 4), dpi=100)
    CalibrationDisplay.from_predictions(
        labels, probabilities, n_bins=CALIBRATION_BINS, ax=axes, name="backscatter"
    )
    axes.set_title(f"Reliability ({CALIBRATION_BINS} bins, spoofed = positive)")
    figure.tight_layout()
    figure.savefig(folder / "calibration.png")
    plt.close(figure)
    written.append(folder / "calibration.png")
    return written
