"""Did we send the message a bounce returns? Matched against the sent-log, with reasons.

In order of strength: the returned Message-ID; a failed recipient we sent to in the days
before the bounce (about a quarter of real bounces quote no Message-ID); the returned
original's sender among ours in that window. The answer says what matched and how, in
words an operator can check, not just a boolean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from backscatter.mail.addresses import addresses_in_text, header_addresses, normalise
from backscatter.mail.anatomy import Bounce
from backscatter.sentlog.batv import recognise
from backscatter.sentlog.records import SentRecipient
from backscatter.sentlog.store import SentLogStore

#: How far before a bounce its original may have been sent (delay DSNs come after days).
DEFAULT_WINDOW = timedelta(days=10)
_CLOCK_SKEW = timedelta(hours=2)
_EXPANDED = re.compile(r"expanded from:?\s*<?([^<>\s)]+@[^<>\s)]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SentMatch:
    """How a bounce relates to what we sent. ``how`` is none, sender, recipient or message_id."""

    how: str
    sent: SentRecipient | None = None
    hours_before: float | None = None
    detail: str = "nothing in the sent-log matches"

    @property
    def found(self) -> bool:
        return self.how != "none"


def match_bounce(
    store: SentLogStore, bounce: Bounce, window: timedelta = DEFAULT_WINDOW
) -> SentMatch:
    """The strongest evidence in the sent-log that we sent what this bounce returns."""
    when = bounce_time(bounce)
    since, until = when - window, when + _CLOCK_SKEW
    candidates = candidate_recipients(bounce)
    if bounce.original_message_id:
        rows = store.by_message_id(bounce.original_message_id)
        if rows:
            row = next((r for r in rows if r.recipient in candidates), rows[0])
            return _found("message_id", row, when, f"Message-ID <{row.message_id}> was sent")
    for address in candidates:
        rows = store.by_recipient(address, since, until)
        if rows:
            row = max(rows, key=lambda r: r.sent_at)
            return _found("recipient", row, when, "a message was sent")
    sender = _plain(bounce.original_from)
    if sender:
        rows = store.by_sender(sender, since, until)
        if rows:
            return _found("sender", rows[0], when, f"{rows[0].sender} sent mail")
    return SentMatch("none")


def candidate_recipients(bounce: Bounce) -> list[str]:
    """Every form of the failed recipients we may have recorded, most direct first.

    Forwarding (``expanded from``) and MTAs that rewrite recipients mean the address in
    the report is not always the one we sent to; the returned original's To shows that one.
    """
    found: list[str] = []
    for recipient in bounce.recipients:
        found.append(recipient.address)
        for expanded in _EXPANDED.findall(recipient.diagnostic_code or ""):
            found.append(expanded)
    found.extend(header_addresses(bounce.original_to or ""))
    return list(dict.fromkeys(a for a in (_plain(x) for x in found) if a))


def bounce_time(bounce: Bounce) -> datetime:
    """When the bounce was written: its Date, else the DSN's Arrival-Date, else now."""
    for value in (bounce.date, bounce.arrival_date):
        if value:
            try:
                moment = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                continue
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _plain(address: str | None) -> str | None:
    """Lower-cased, brackets gone, and a BATV/SRS tag removed (we store untagged senders)."""
    if not address or "@" not in address:
        return None
    tagged = recognise(address)
    value = tagged.address if tagged else address
    found = list(addresses_in_text(value)) or [value]
    return normalise(found[0]).lower()


def _found(how: str, row: SentRecipient, when: datetime, what: str) -> SentMatch:
    hours = (when - row.sent_at).total_seconds() / 3600
    detail = f"{what} to {row.recipient} {_ago(hours)}"
    return SentMatch(how, row, hours, detail)


def _ago(hours: float) -> str:
    if hours < 0:
        return "just after the bounce's own date (clocks differ)"
    if hours < 1:
        return f"{round(hours * 60)} min before"
    if hours < 48:
        return f"{hours:.0f} h before"
    return f"{hours / 24:.1f} days before"
