"""ROC and precision-recall curves as PNG files (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_curves(labels: np.ndarray, probabilities: np.ndarray, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt
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
    return written
