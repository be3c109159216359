"""Did we send the message a bounce returns? Matched against the sent-log, with reasons.

In order of strength: a Message-ID we sent, whether the returned one or any other the bounce
quotes (In-Reply-To, References, ``Message-ID:`` lines in its text), since one ID of ours is
evidence enough on its own; a failed recipient, or an addressee of the returned original, we
sent to in the days before the bounce (about a quarter of real bounces quote no Message-ID);
the returned original's sender among ours in that window. The answer says what matched and
how, in words an operator can check, and also what was looked up (``quoted_ids``) and whether
the sent-log covers the time the original was sent (``coverage``): a log that starts today
knows nothing of last month's mail, and its silence then is no evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from backscatter.mail.addresses import addresses_in_text, header_addresses
from backscatter.mail.anatomy import Bounce
from backscatter.mail.identifiers import address_key, message_id_key
from backscatter.sentlog.batv import recognise
from backscatter.sentlog.records import SentRecipient
from backscatter.sentlog.store import SentLogStore

#: How far before a bounce its original may have been sent (delay DSNs come after days).
DEFAULT_WINDOW = timedelta(days=10)
#: Most Message-IDs and most addresses looked up for one bounce (a long References chain
#: or a mass mailing's To must not make one bounce cost hundreds of lookups).
MAX_LOOKUPS = 20
#: How much older than the bounce a returned Date may be and still be believed.
_OLDEST_ORIGINAL = timedelta(days=60)
_CLOCK_SKEW = timedelta(hours=2)
_EXPANDED = re.compile(r"expanded from:?\s*<?([^<>\s)]+@[^<>\s)]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SentMatch:
    """How a bounce relates to what we sent. ``how`` is none, sender, recipient or message_id.

    ``quoted_ids`` are the Message-IDs looked up (the returned one first); ``coverage`` is
    ``covered``, ``before_log`` (the original predates the first row, or the log is empty),
    ``after_log`` (it follows the last row by more than the window: the log stopped) or
    ``undated`` (neither the bounce nor its original carries a usable date).
    """

    how: str
    sent: SentRecipient | None = None
    hours_before: float | None = None
    detail: str = "nothing in the sent-log matches"
    quoted_ids: tuple[str, ...] = ()
    coverage: str = "covered"

    @property
    def found(self) -> bool:
        return self.how != "none"


@dataclass(frozen=True, slots=True)
class _Facts:
    """What every answer reports, matched or not."""

    quoted_ids: tuple[str, ...]
    coverage: str


def match_bounce(
    store: SentLogStore,
    bounce: Bounce,
    window: timedelta = DEFAULT_WINDOW,
    message_ids: Iterable[str] = (),
) -> SentMatch:
    """The strongest evidence in the sent-log that we sent what this bounce returns.

    ``message_ids`` are every other Message-ID found in the message (see
    :func:`backscatter.mail.identifiers.message_ids_in_text`); they are looked up with the
    returned one, in one indexed query.
    """
    stated = stated_time(bounce)  # the Date fields are parsed once for both uses
    when = stated or datetime.now(UTC)
    since, until = when - window, when + _CLOCK_SKEW
    quoted = quoted_message_ids(bounce, message_ids)
    facts = _Facts(quoted, _coverage(store, _original_time(bounce, stated), window))
    candidates = candidate_recipients(bounce)[:MAX_LOOKUPS]
    if quoted:
        rows = store.by_message_ids(quoted, candidates)
        if rows:
            row = _best_by_id(rows, quoted, candidates)
            what = f"Message-ID <{row.message_id}> was sent"
            return _found("message_id", row, when, what, facts)
    if candidates:
        rows = store.by_recipients(candidates, since, until)
        if rows:
            row = _best_by_recipient(rows, candidates)
            return _found("recipient", row, when, "a message was sent", facts)
    sender = _plain(bounce.original_from)
    if sender:
        rows = store.by_sender(sender, since, until)
        if rows:
            return _found("sender", rows[0], when, f"{rows[0].sender} sent mail", facts)
    return SentMatch("none", quoted_ids=facts.quoted_ids, coverage=facts.coverage)


def quoted_message_ids(bounce: Bounce, message_ids: Iterable[str] = ()) -> tuple[str, ...]:
    """The returned Message-ID, then the others given, normalised, without repeats or the
    bounce's own ID, at most :data:`MAX_LOOKUPS`."""
    own = message_id_key(bounce.message_id)
    found: dict[str, None] = {}
    for value in (bounce.original_message_id, *message_ids):
        identifier = message_id_key(value)
        if identifier and identifier != own:
            found[identifier] = None
            if len(found) >= MAX_LOOKUPS:
                break
    return tuple(found)


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
    return stated_time(bounce) or datetime.now(UTC)


def stated_time(bounce: Bounce) -> datetime | None:
    """The bounce's Date, else the DSN's Arrival-Date; None when neither is usable."""
    for value in (bounce.date, bounce.arrival_date):
        moment = _parse_date(value)
        if moment is not None:
            return moment
    return None


def _original_time(bounce: Bounce, when: datetime | None) -> datetime | None:
    """When the original was sent: its returned Date when that is believable (not after the
    bounce, beyond clock skew, nor more than 60 days before it), else the bounce's own Date
    or Arrival-Date (``when``, from :func:`stated_time`); None when the message dates
    neither (then no sent-log can say whether it covers the original: "now" is a guess, and
    an archive scored today would be judged by today's log)."""
    sent = _parse_date(bounce.original_date)
    if when is None:
        return sent
    if sent is not None and when - _OLDEST_ORIGINAL <= sent <= when + _CLOCK_SKEW:
        return sent
    return when


def _coverage(store: SentLogStore, sent: datetime | None, window: timedelta) -> str:
    if sent is None:
        return "undated"
    span = store.coverage()
    if span is None or sent < span[0]:
        return "before_log"
    if sent > span[1] + window:
        return "after_log"
    return "covered"


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _best_by_id(
    rows: list[SentRecipient], quoted: tuple[str, ...], candidates: list[str]
) -> SentRecipient:
    """The row of the earliest-quoted ID, to a failed recipient if one is, else any addressee.
    (IDs compare case-blind here: rows stored before domains were lower-cased keep theirs.)"""
    order = {identifier.lower(): index for index, identifier in enumerate(quoted)}
    wanted = set(candidates)

    def rank(row: SentRecipient) -> tuple[int, int, int]:
        quoted_at = order.get((row.message_id or "").lower(), len(order))
        return (quoted_at, row.recipient not in wanted, not row.recipient)

    return min(rows, key=rank)


def _best_by_recipient(rows: list[SentRecipient], candidates: list[str]) -> SentRecipient:
    """The most direct address's most recent message."""
    rank = {address: index for index, address in enumerate(candidates)}
    return min(rows, key=lambda r: (rank.get(r.recipient, len(rank)), -r.sent_at.timestamp()))


def _plain(address: str | None) -> str | None:
    """Lower-cased, brackets gone, and a BATV/SRS tag removed (we store untagged senders)."""
    if not address or "@" not in address:
        return None
    tagged = recognise(address)
    value = tagged.address if tagged else address
    found = list(addresses_in_text(value)) or [value]
    return address_key(found[0])


def _found(how: str, row: SentRecipient, when: datetime, what: str, facts: _Facts) -> SentMatch:
    """A match is itself proof that the sent-log speaks for this bounce: its coverage is
    ``covered`` even when the original's Date is a little before the log's first row (one
    clock ahead of the other), which would otherwise say "no evidence either way" next to
    "was sent 0 min before"."""
    hours = (when - row.sent_at).total_seconds() / 3600
    to = f" to {row.recipient}" if row.recipient else ""  # a Message-ID-only row names none
    detail = f"{what}{to} {_ago(hours)}"
    return SentMatch(how, row, hours, detail, facts.quoted_ids, "covered")


def _ago(hours: float) -> str:
    if hours < 0:
        return "just after the bounce's own date (clocks differ)"
    if hours < 1:
        return f"{round(hours * 60)} min before"
    if hours < 48:
        return f"{hours:.0f} h before"
    return f"{hours / 24:.1f} days before"
