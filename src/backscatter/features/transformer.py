"""The feature extractor as a scikit-learn transformer over :class:`Evidence` objects."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from backscatter.features import content, infrastructure, sentlog, structure
from backscatter.features.evidence import Evidence
from backscatter.features.feature import Feature

#: Every feature, in vector order, grouped as documented in the model card.
GROUPS: dict[str, tuple[Feature, ...]] = {
    "structure": structure.FEATURES,
    "sentlog": sentlog.FEATURES,
    "infrastructure": infrastructure.FEATURES,
    "content": content.FEATURES,
}
CATALOG: tuple[Feature, ...] = tuple(f for group in GROUPS.values() for f in group)
#: Each feature's function, in catalogue order (read once here, not per feature per row).
_VALUES = tuple(feature.value for feature in CATALOG)


class BounceFeatures(TransformerMixin, BaseEstimator):
    """Evidence -> a fixed-length float vector. Stateless: ``fit`` learns nothing."""

    def fit(self, evidence: Sequence[Evidence], y: object = None) -> BounceFeatures:
        self.n_features_in_ = len(CATALOG)
        # The model's contract: loading checks these against this version's catalogue.
        self.feature_names_ = [feature.name for feature in CATALOG]
        return self

    def transform(self, evidence: Sequence[Evidence]) -> np.ndarray:
        return self.rows(evidence)

    def rows(self, evidence: Sequence[Evidence]) -> np.ndarray:
        """What ``transform`` returns, without the output-container wrapper scikit-learn puts
        around ``transform`` (about a quarter of the call for the one row a daemon scores)."""
        rows = np.empty((len(evidence), len(CATALOG)), dtype=np.float64)
        for i, item in enumerate(evidence):
            rows[i] = [value(item) for value in _VALUES]
        return rows

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array([feature.name for feature in CATALOG], dtype=object)
