"""Sent-log evidence: did we send what the bounce returns? The decisive group when present.

A sent-log speaks only for the time it covers. When it starts after the original was sent
(or stopped being fed before), its silence is no evidence, and every feature here reads as
if no sent-log had been given. Within its span, a Message-ID the bounce quotes that we never
sent is a positive sign of backscatter; a recipient we never wrote to is weaker (the parser
may have read the wrong address), so the model weighs it but it does not count as a sign.
"""

from __future__ import annotations

import math

from backscatter.features.evidence import Evidence
from backscatter.features.feature import Feature, flag, positive

_KNOWN = ("message_id", "recipient")


def covering(e: Evidence) -> bool:
    """A sent-log was consulted and it covers the time the original was sent."""
    return e.sentlog_given and e.sent is not None and e.sent.coverage == "covered"


def _how(e: Evidence, how: str) -> float:
    return flag(e.sent is not None and e.sent.how == how)


def _hours(e: Evidence) -> float:
    if e.sent is None or e.sent.hours_before is None:
        return 0.0
    return math.log1p(max(e.sent.hours_before, 0.0))


def id_unknown(e: Evidence) -> bool:
    """A covering sent-log knows neither the Message-IDs the bounce quotes nor a recipient."""
    return covering(e) and bool(e.sent.quoted_ids) and e.sent.how not in _KNOWN


FEATURES: tuple[Feature, ...] = (
    Feature(
        "sentlog_given",
        "a sent-log covering the time the original was sent was consulted (without one, "
        "absence proves nothing)",
        lambda e: flag(covering(e)),
    ),
    Feature(
        "sent_message_id",
        "a Message-ID the bounce quotes is one we sent",
        lambda e: _how(e, "message_id"),
        rule="SENTLOG_MATCH",
    ),
    Feature(
        "sent_recipient",
        "we sent to the failed recipient in the days before",
        lambda e: _how(e, "recipient"),
        rule="SENTLOG_RCPT_MATCH",
    ),
    Feature(
        "sent_id_unknown",
        "the sent-log covers the time and knows none of the Message-IDs the bounce quotes, "
        "nor any failed recipient: what backscatter of forged mail looks like",
        lambda e: flag(id_unknown(e)),
        forgery=positive,
        rule="NOT_IN_SENTLOG",
    ),
    Feature(
        "sent_unmatched",
        "the sent-log covers the time, the bounce quotes no Message-ID, and no failed "
        "recipient is in it (weaker: the recipient may have been misread)",
        lambda e: flag(
            covering(e)
            and bool(e.bounce.recipients)
            and not e.sent.quoted_ids
            and e.sent.how not in _KNOWN
        ),
        rule="RCPT_NOT_IN_SENTLOG",
    ),
    Feature("hours_since_sent", "hours between our send and the bounce (log-scaled)", _hours),
)
