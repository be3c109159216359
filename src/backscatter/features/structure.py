"""Structure and header consistency: does the report look like what a mail system writes?"""

from __future__ import annotations

import math
from email.utils import parsedate_to_datetime

from backscatter.features.evidence import Evidence
from backscatter.features.feature import Feature, flag, negative, positive


def _date(value: str | None) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp() if value else None
    except (TypeError, ValueError, IndexError, OverflowError):  # year 99999999999999999999
        return None


def status_consistency(e: Evidence) -> float:
    """1 when every stated status fits its action, -1 when one cannot, 0 when there is no
    status to check (a linear model must not read absence as agreement).

    Only combinations no MTA writes count against a report: a delay warning with a permanent
    status, a failure with a success status, a delivery with a failure status. The SMTP reply
    code is not compared with the status: real servers disagree with themselves there (Exchange's
    '550 4.4.7 QUEUE.Expired', Postfix giving up with 4.x.x after a 5xx greeting)."""
    checked = False
    for r in e.bounce.recipients:
        if not r.status:
            continue
        checked = True
        status_class = r.status[0]
        if r.action == "delayed" and status_class == "5":
            return -1.0
        if r.action == "failed" and status_class == "2":
            return -1.0
        if r.action in ("delivered", "relayed", "expanded") and status_class in ("4", "5"):
            return -1.0
    return 1.0 if checked else 0.0


def _date_order(e: Evidence) -> float:
    """1 when the original was sent before the bounce (within 10 days), -1 when not, 0 unknown."""
    sent, bounced = _date(e.bounce.original_date), _date(e.bounce.date)
    if sent is None or bounced is None:
        return 0.0
    return 1.0 if -7200 <= bounced - sent <= 10 * 86400 else -1.0


def _recipient_in_original(e: Evidence) -> float:
    """1 when a failed recipient is among the returned original's To, -1 when not, 0 unknown."""
    if not e.bounce.recipients or not e.bounce.original_to:
        return 0.0
    addressed = e.bounce.original_to.lower()
    return 1.0 if any(r.address.lower() in addressed for r in e.bounce.recipients) else -1.0


def _reporter_is_last_hop(e: Evidence) -> float:
    """1 when the host that handed the report to us belongs to the reporting MTA's domain."""
    if not e.top_hop_domain or not e.reporting_domain:
        return 0.0
    return 1.0 if e.top_hop_domain == e.reporting_domain else -1.0


FEATURES: tuple[Feature, ...] = (
    Feature(
        "is_bounce",
        "the parser found a delivery failure report from a mail system",
        lambda e: flag(e.bounce.is_bounce),
    ),
    Feature(
        "claims_without_report",
        "claims to be about undelivered mail but holds no delivery report",
        lambda e: flag(e.claims_bounce and not e.bounce.is_bounce),
    ),
    Feature(
        "has_dsn_part",
        "an RFC 3464 message/delivery-status part: what real MTAs attach",
        lambda e: flag(e.has_dsn_part),
    ),
    Feature(
        "multipart_report",
        "multipart/report is the container RFC 6522 prescribes",
        lambda e: flag(e.multipart_report),
    ),
    Feature(
        "null_sender",
        "bounces are sent with an empty envelope sender (Return-Path <>)",
        lambda e: flag(e.null_sender),
    ),
    Feature(
        "from_mail_system",
        "From names MAILER-DAEMON or postmaster (easily forged, weak)",
        lambda e: flag(e.from_mail_system),
    ),
    Feature(
        "auto_submitted",
        "RFC 3834 Auto-Submitted, which MTAs set on reports",
        lambda e: flag(e.auto_submitted),
    ),
    Feature(
        "html_only",
        "no plain-text report: MTAs write text, phishing writes HTML",
        lambda e: flag(e.html_only),
        forgery=positive,
        rule="HTML_ONLY",
    ),
    Feature(
        "names_recipients",
        "the report names at least one failed recipient",
        lambda e: flag(bool(e.bounce.recipients)),
    ),
    Feature(
        "returns_original",
        "the report returns the original's headers (fakes rarely do)",
        lambda e: flag(bool(e.bounce.original_message_id or e.bounce.original_received)),
    ),
    Feature(
        "status_consistent",
        "status fits action: no MTA sends a delay with a permanent status",
        status_consistency,
        forgery=negative,
        rule="STATUS_ACTION_CONFLICT",
        rule_why="a status contradicts its action (a delay with a permanent status, a failure "
        "with a success status): no MTA writes that",
    ),
    Feature("date_order", "the original predates the bounce by minutes to days", _date_order),
    Feature(
        "recipient_in_original",
        "the failed recipient is one the original was addressed to",
        _recipient_in_original,
    ),
    Feature(
        "reporter_is_last_hop",
        "the reporting MTA is the host that delivered the report",
        _reporter_is_last_hop,
    ),
    Feature(
        "spf",
        "SPF of the report at our border: 1 pass, -1 fail, 0 none",
        lambda e: float(e.auth.get("spf", 0)),
    ),
    Feature(
        "dkim",
        "DKIM of the report at our border: 1 pass, -1 fail, 0 none",
        lambda e: float(e.auth.get("dkim", 0)),
    ),
    Feature(
        "dmarc",
        "DMARC of the report at our border: 1 pass, -1 fail, 0 none",
        lambda e: float(e.auth.get("dmarc", 0)),
        forgery=negative,
        rule="DMARC_FAIL",
        rule_why="the report fails DMARC at our border",
    ),
    Feature(
        "mime_defects",
        "MIME the parser had to repair (log-scaled)",
        lambda e: math.log1p(len(e.bounce.mime_defects)),
    ),
)
