"""The model: features -> scaling -> calibrated logistic regression.

A linear model on well-chosen features is hard to overfit to the generator's quirks and
explains itself: each feature's contribution is its weight times its value, which is what
the evidence sentences report. Calibration (Platt, 5-fold) makes the probability mean
what it says.
"""

from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from backscatter.features import BounceFeatures


def new_pipeline(seed: int = 0) -> Pipeline:
    classifier = LogisticRegression(
        C=2.0, max_iter=5000, class_weight="balanced", random_state=seed
    )
    return Pipeline(
        [
            ("features", BounceFeatures()),
            # Not centred: a feature at 0 means "no evidence" (no sent-log, no config, no
            # links) and must push neither way.
            ("scale", StandardScaler(with_mean=False)),
            ("classifier", CalibratedClassifierCV(classifier, method="sigmoid", cv=5)),
        ]
    )
