"""A feature: a name, why it matters (shown in the model card), and how it is computed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backscatter.features.evidence import Evidence


@dataclass(frozen=True)
class Feature:
    name: str
    why: str
    value: Callable[[Evidence], float]


def flag(condition: bool) -> float:
    return 1.0 if condition else 0.0
