"""The fitted pipeline's arithmetic, without scikit-learn's per-call overhead.

A milter scores one message at a time; ``CalibratedClassifierCV.predict_proba`` on one row
spends ~5 ms in input validation across its five folds, for a few hundred multiply-adds.
The fitted model is a scaler and five (logistic regression, Platt sigmoid) pairs averaged,
so the same numbers come from their coefficients directly. scikit-learn stays the format
that is trained, saved and checked (the tests hold both paths to the same probabilities);
any other model shape simply uses scikit-learn.
"""

from __future__ import annotations

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


class LinearScorer:
    """Scaled rows and spoofed probabilities, as the pipeline would compute them."""

    def __init__(self, model: Pipeline) -> None:
        self.model = model
        self.scale_: np.ndarray | None = None
        self.coef_: np.ndarray | None = None  # (folds, features)
        self.intercept_: np.ndarray | None = None
        self.a_: np.ndarray | None = None
        self.b_: np.ndarray | None = None
        scaler, calibrated = model.named_steps.get("scale"), model.named_steps.get("classifier")
        if not (
            isinstance(scaler, StandardScaler)
            and not scaler.with_mean
            and isinstance(calibrated, CalibratedClassifierCV)
            and calibrated.method == "sigmoid"
            and list(calibrated.classes_) == [0, 1]
            and all(
                isinstance(c.estimator, LogisticRegression) and len(c.calibrators) == 1
                for c in calibrated.calibrated_classifiers_
            )
        ):
            return  # another shape: scikit-learn computes it
        folds = calibrated.calibrated_classifiers_
        self.scale_ = np.asarray(
            scaler.scale_ if scaler.with_std else np.ones(scaler.n_features_in_)
        )
        self.coef_ = np.vstack([c.estimator.coef_[0] for c in folds])
        self.intercept_ = np.array([c.estimator.intercept_[0] for c in folds])
        self.a_ = np.array([c.calibrators[0].a_ for c in folds])
        self.b_ = np.array([c.calibrators[0].b_ for c in folds])
        if not self._agrees_with(calibrated):
            self.scale_ = self.coef_ = None  # a scikit-learn we do not understand: use its own

    def _agrees_with(self, calibrated: CalibratedClassifierCV) -> bool:
        """The shortcut reads fitted attributes that scikit-learn keeps private: prove it
        against ``predict_proba`` on probe rows once, at load, rather than trust them."""
        probe = np.vstack(
            [np.zeros(self.coef_.shape[1]), np.linspace(-2.0, 2.0, self.coef_.shape[1])]
        )
        expected = calibrated.predict_proba(probe)[:, 1]
        return bool(np.allclose(self.probabilities(probe), expected, rtol=0, atol=1e-9))

    def scale(self, rows: np.ndarray) -> np.ndarray:
        if self.scale_ is None:
            return np.asarray(self.model.named_steps["scale"].transform(rows))
        return rows / self.scale_

    def probabilities(self, scaled: np.ndarray) -> np.ndarray:
        """P(spoofed) per row: the mean over folds of each fold's Platt-calibrated score."""
        if self.coef_ is None:
            return self.model.named_steps["classifier"].predict_proba(scaled)[:, 1]
        # 1 / (1 + exp(a * (scaled . coef + intercept) + b)), the same operations in the same
        # order, in place: one array instead of six for the one row a daemon scores.
        decision = scaled @ self.coef_.T  # (rows, folds)
        decision += self.intercept_
        calibrated = self.a_ * decision
        calibrated += self.b_
        np.exp(calibrated, out=calibrated)
        calibrated += 1.0
        np.divide(1.0, calibrated, out=calibrated)
        # What calibrated.mean(axis=1) computes (the same sum, divided by the count), without
        # its Python-level wrapper: a third of this call for the one row a daemon scores.
        return np.add.reduce(calibrated, axis=1) / calibrated.shape[1]
