"""A feature: a name, why it matters (shown in the model card), and how it is computed.

``forgery`` says which values of the feature are *positive* evidence that a report is
forged (a link, an attachment, a contradicting status, a covering sent-log that does not
know the quoted Message-ID). The detector calls a message spoofed only when at least one
such sign is present: a report that merely lacks what genuine ones have (an unknown layout
the parser could not read) is unknown, not forged, whatever a linear model makes of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backscatter.features.evidence import Evidence


@dataclass(frozen=True)
class Feature:
    name: str
    why: str
    value: Callable[[Evidence], float]
    forgery: Callable[[float], bool] | None = None


def flag(condition: bool) -> float:
    return 1.0 if condition else 0.0


def positive(value: float) -> bool:
    """A forgery sign when the feature is present at all (a link, an attachment)."""
    return value > 0


def negative(value: float) -> bool:
    """A forgery sign when a check fails (-1: status contradicts action, DMARC fails)."""
    return value < 0
