"""Turning a parsed message into evidence and a feature vector."""

from backscatter.features.config import OurInfrastructure, load_config
from backscatter.features.evidence import Evidence, collect
from backscatter.features.transformer import CATALOG, GROUPS, BounceFeatures

__all__ = [
    "CATALOG",
    "GROUPS",
    "BounceFeatures",
    "Evidence",
    "OurInfrastructure",
    "collect",
    "load_config",
]
