"""Sent-log evidence: did we send what the bounce returns? The decisive group when present."""

from __future__ import annotations

import math

from backscatter.features.evidence import Evidence
from backscatter.features.feature import Feature, flag


def _how(e: Evidence, how: str) -> float:
    return flag(e.sent is not None and e.sent.how == how)


def _hours(e: Evidence) -> float:
    if e.sent is None or e.sent.hours_before is None:
        return 0.0
    return math.log1p(max(e.sent.hours_before, 0.0))


FEATURES: tuple[Feature, ...] = (
    Feature(
        "sentlog_given",
        "a sent-log was consulted (without one, absence proves nothing)",
        lambda e: flag(e.sentlog_given),
    ),
    Feature(
        "sent_message_id", "the returned Message-ID is one we sent", lambda e: _how(e, "message_id")
    ),
    Feature(
        "sent_recipient",
        "we sent to the failed recipient in the days before",
        lambda e: _how(e, "recipient"),
    ),
    Feature(
        "sent_unmatched",
        "a sent-log was given and neither the Message-ID nor any failed recipient is in it",
        lambda e: flag(
            e.sentlog_given and (e.sent is None or e.sent.how not in ("message_id", "recipient"))
        ),
    ),
    Feature("hours_since_sent", "hours between our send and the bounce (log-scaled)", _hours),
)
