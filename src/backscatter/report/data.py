"""What a list-hygiene report is made of, gathered in one pass over the verdicts.

Memory stays bounded on any mailbox: everything but the two address tables is a counter
whose number of keys is capped (:class:`TopCounter`), so a million bounces cost what a
thousand do. The address tables keep details for the first ``cap`` addresses only and count
the rest ("and N more"); the full list is what ``backscatter suppressions`` writes.

Which addresses are suppressible follows ``backscatter suppressions`` with its default
reasons: hard-bounced recipients of *genuine* bounces only, for a reason that is about the
address itself (:data:`backscatter.mail.status.RECIPIENT_SIDE`). A spoofed bounce
(backscatter, a fake NDR) says nothing true about the address it names, and an ``unknown``
one has not shown it is real, so their recipients are listed apart as held back: a forger
must not be able to unsubscribe readers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from backscatter.detector import GENUINE, NOT_BOUNCE, SPOOFED, UNKNOWN, Verdict
from backscatter.mail import status
from backscatter.sentlog.matching import stated_time

#: The taxonomy a report shows, in the order shown: status.py's reasons grouped the way a
#: list owner acts on them. A malformed address (``syntax_error``, 5.1.3) is rare enough in
#: list mail to sit under "other".
CATEGORIES = (
    "unknown user",
    "mailbox full",
    "unknown domain",
    "SPF/DMARC/policy",
    "blocked as spam",
    "too large",
    "expired",
    "other",
)
_CATEGORY = {
    status.USER_UNKNOWN: "unknown user",
    status.MAILBOX_FULL: "mailbox full",
    status.HOST_UNKNOWN: "unknown domain",
    status.POLICY: "SPF/DMARC/policy",
    status.BLOCKED: "blocked as spam",
    status.MESSAGE_TOO_LARGE: "too large",
    status.EXPIRED: "expired",
    status.SYNTAX_ERROR: "other",
    status.OTHER: "other",
}

#: Bounce verdicts (everything scored except mail that is not a bounce), in display order.
BOUNCE_VERDICTS = (GENUINE, SPOOFED, UNKNOWN)

#: Dates outside this span are a forger's or a broken clock's, not a bounce's: counted with
#: the undated so one "Date: 1 Jan 9999" cannot stretch the timeline over eight millennia.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_FUTURE_SLACK = timedelta(days=2)

#: Distinct keys a counter keeps before counting new ones under OTHERS (memory bound).
MAX_KEYS = 20_000
OTHERS = "(all others)"
#: The longest key a counter keeps (a 100 KB Subject is counted, not stored whole).
MAX_KEY = 200
NOT_STATED = "(not stated)"


def category(reason: str) -> str:
    """The report's taxonomy label for a status.py reason."""
    return _CATEGORY.get(reason, "other")


class TopCounter(Counter[str]):
    """A Counter that stops adding keys at ``limit``: later new keys count under OTHERS.

    Heavy hitters show up early in any real stream, so the top rows stay right; a hostile
    stream of a million distinct domains costs ``limit`` keys, not a million."""

    def __init__(self, limit: int = MAX_KEYS) -> None:
        super().__init__()
        self.limit = limit

    def bump(self, key: str, by: int = 1) -> None:
        if key not in self and len(self) >= self.limit:
            key = OTHERS
        self[key] += by


@dataclass
class Listed:
    """One address in a report table: why it bounced, under which verdict, how often."""

    reason: str
    verdict: str
    bounces: int = 0
    last: datetime | None = None


@dataclass
class AddressTable:
    """Addresses with details for the first ``cap`` seen; the rest are only counted."""

    cap: int
    shown: dict[str, Listed] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def add(self, address: str, reason: str, verdict: str, when: datetime | None) -> None:
        self.seen.add(address)
        entry = self.shown.get(address)
        if entry is None:
            if len(self.shown) >= self.cap:
                return
            entry = self.shown[address] = Listed(category(reason), verdict)
        entry.bounces += 1
        if when is not None and (entry.last is None or when > entry.last):
            entry.last = when

    @property
    def total(self) -> int:
        return len(self.seen)

    def without(self, other: AddressTable) -> AddressTable:
        """This table less the addresses ``other`` holds (held back less suppressed)."""
        kept = AddressTable(self.cap)
        kept.seen = self.seen - other.seen
        kept.shown = {a: e for a, e in self.shown.items() if a not in other.seen}
        return kept


@dataclass
class ReportData:
    """Counters for every section of the report; fed one verdict at a time by :meth:`add`."""

    sent_log: bool
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    cap: int = 100  # address rows shown per table; the rest are counted
    verdicts: Counter[str] = field(default_factory=Counter)
    skipped: int = 0  # files that are not mail at all
    unreadable: int = 0  # inputs that could not be read (counted by the caller)
    #: (category, hard) -> failed recipients, in genuine bounces
    reasons: Counter[tuple[str, bool]] = field(default_factory=Counter)
    domains: TopCounter = field(default_factory=TopCounter)  # failed recipients by domain
    hard_domains: TopCounter = field(default_factory=TopCounter)
    mtas: TopCounter = field(default_factory=TopCounter)  # bounces by reporting MTA
    spoofed_mtas: TopCounter = field(default_factory=TopCounter)
    spoofed_subjects: TopCounter = field(default_factory=TopCounter)
    #: (day, verdict) -> bounces; undated (or implausibly dated) bounces by verdict
    days: Counter[tuple[date, str]] = field(default_factory=Counter)
    undated: Counter[str] = field(default_factory=Counter)
    coverage: Counter[str] = field(default_factory=Counter)  # with a sent-log only
    suppress: AddressTable = field(init=False)
    held_back: AddressTable = field(init=False)

    def __post_init__(self) -> None:
        self.suppress = AddressTable(self.cap)
        self.held_back = AddressTable(self.cap)

    def add(self, verdict: Verdict) -> None:
        """Count one verdict into every section (constant work per recipient)."""
        bounce = verdict.bounce
        if not bounce.is_mail:
            self.skipped += 1
            return
        kind = verdict.verdict
        self.verdicts[kind] += 1
        if kind == NOT_BOUNCE:
            return
        when = self._when(verdict)
        if when is None:
            self.undated[kind] += 1
        else:
            self.days[(when.date(), kind)] += 1
        if verdict.coverage is not None:
            self.coverage[verdict.coverage] += 1
        mta = (bounce.reporting_mta or "").strip().lower()[:MAX_KEY] or NOT_STATED
        self.mtas.bump(mta)
        if kind == SPOOFED:
            self.spoofed_mtas.bump(mta)
            self.spoofed_subjects.bump((bounce.subject or "").strip()[:MAX_KEY] or NOT_STATED)
        for recipient in bounce.recipients:
            address = recipient.address.strip().lower()
            if kind != GENUINE:
                if recipient.hard and address:
                    self.held_back.add(address, recipient.reason, kind, when)
                continue
            self.reasons[(category(recipient.reason), recipient.hard)] += 1
            domain = address.rpartition("@")[2] if "@" in address else NOT_STATED
            self.domains.bump(domain)
            if recipient.hard:
                self.hard_domains.bump(domain)
                if address and recipient.reason in status.RECIPIENT_SIDE:
                    self.suppress.add(address, recipient.reason, kind, when)

    def _when(self, verdict: Verdict) -> datetime | None:
        """The bounce's Date (else its Arrival-Date) when it is a believable one."""
        when = stated_time(verdict.bounce)
        if when is None or not EARLIEST <= when <= self.now + _FUTURE_SLACK:
            return None
        return when.astimezone(UTC)

    # What the sections read -------------------------------------------------------------

    @property
    def messages(self) -> int:
        """Mail messages scored (files that are not mail excluded)."""
        return sum(self.verdicts.values())

    @property
    def bounces(self) -> int:
        return sum(self.verdicts[v] for v in BOUNCE_VERDICTS)

    def held_back_only(self) -> AddressTable:
        """Held-back addresses that no genuine bounce put on the suppress list."""
        return self.held_back.without(self.suppress)


@dataclass(frozen=True)
class Timeline:
    """Bounces per period, by verdict: days for up to two months, weeks up to three years,
    else months (a chart of a few dozen to a few hundred bars, never thousands)."""

    unit: str  # "day", "week" or "month"
    starts: tuple[date, ...]
    counts: dict[str, tuple[int, ...]]  # verdict -> bounces per period

    def spoofed_share(self) -> tuple[float | None, ...]:
        """Spoofed share of each period's bounces; None for a period without any."""
        shares: list[float | None] = []
        for index in range(len(self.starts)):
            total = sum(self.counts[v][index] for v in BOUNCE_VERDICTS)
            shares.append(self.counts[SPOOFED][index] / total if total else None)
        return tuple(shares)


def timeline(days: Counter[tuple[date, str]]) -> Timeline | None:
    """The dated bounces grouped into periods with the gaps filled; None when none is dated."""
    if not days:
        return None
    first = min(day for day, _ in days)
    last = max(day for day, _ in days)
    span = (last - first).days
    unit = "day" if span <= 62 else "week" if span <= 3 * 366 else "month"
    starts = _periods(first, last, unit)
    index = {start: position for position, start in enumerate(starts)}
    counts = {v: [0] * len(starts) for v in BOUNCE_VERDICTS}
    for (day, verdict), count in days.items():
        if verdict in counts:
            counts[verdict][index[_period_start(day, unit)]] += count
    return Timeline(unit, tuple(starts), {v: tuple(c) for v, c in counts.items()})


def _period_start(day: date, unit: str) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if unit == "month":
        return day.replace(day=1)
    return day


def _periods(first: date, last: date, unit: str) -> list[date]:
    starts, current = [], _period_start(first, unit)
    while current <= last:
        starts.append(current)
        if unit == "month":
            current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
        else:
            current += timedelta(days=7 if unit == "week" else 1)
    return starts
