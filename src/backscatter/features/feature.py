"""A feature: a name, why it matters (shown in the model card), and how it is computed.

``forgery`` says which values of the feature are *positive* evidence that a report is
forged (a link, an attachment, a contradicting status, a covering sent-log that does not
know the quoted Message-ID). The detector calls a message spoofed only when at least one
such sign is present: a report that merely lacks what genuine ones have (an unknown layout
the parser could not read) is unknown, not forged, whatever a linear model makes of it.

``rule`` is the feature's stable SpamAssassin-style name (``X-Backscatter-Status: ...
tests=NOT_IN_SENTLOG,LINK_WITH_LURE``, the ``rules`` field of records, ``backscatter
rules``). Users grep, graph and re-weight by these names, so a name, once shipped, is never
reused for another meaning. Every forgery sign has one, and so have the sent-log, BATV, DKIM
and relay outcomes that speak for a bounce. A rule *fires* when ``forgery`` holds for the
feature's value, or, for a rule that is no forgery sign, when the value is positive (all of
those are flags that are 1 when the outcome holds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backscatter.features.evidence import Evidence

#: SpamAssassin's column width for rule names in reports; longer names break its layouts.
RULE_NAME_LIMIT = 22


@dataclass(frozen=True)
class Feature:
    name: str
    why: str
    value: Callable[[Evidence], float]
    forgery: Callable[[float], bool] | None = None
    rule: str | None = None
    rule_why: str | None = None  # what the rule firing means, where ``why`` says the opposite

    @property
    def meaning(self) -> str:
        """What it means when this feature's rule fires (``backscatter rules``, README)."""
        return self.rule_why or self.why

    def fires(self, value: float) -> bool:
        """Whether this feature's rule fires for ``value`` (never, for a feature with none)."""
        if self.rule is None:
            return False
        return self.forgery(value) if self.forgery is not None else value > 0

    @property
    def polarity(self) -> float:
        """+1 when the rule fires on high values, -1 when on low ones (``negative`` signs):
        the sign that turns the feature's coefficient into the rule's own weight."""
        return -1.0 if self.forgery is negative else 1.0


def flag(condition: bool) -> float:
    return 1.0 if condition else 0.0


def positive(value: float) -> bool:
    """A forgery sign when the feature is present at all (a link, an attachment)."""
    return value > 0


def negative(value: float) -> bool:
    """A forgery sign when a check fails (-1: status contradicts action, DMARC fails)."""
    return value < 0
