"""Postfix maillog: cleanup ``message-id=``, qmgr ``from=``, smtp/lmtp/... ``to=``, by queue ID.

Real logs interleave thousands of messages, rotate (and compress), and come with either
the traditional syslog stamp (``Mar  3 10:15:00``, no year) or RFC 3339. Per-message state
is kept only until the queue ID is ``removed``, and is capped, so memory stays bounded.
A message with a Message-ID but no delivery line here (removed without one, or still queued
when the log ends) becomes one Message-ID-only row: the ID was ours all the same.
Line wording: Postfix's cleanup (message-id=), qmgr (from=, removed) and the delivery
agents through ``src/global/log_adhoc.c`` (to=, status=).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from backscatter.mail.identifiers import address_key, message_id_key
from backscatter.sentlog.importers.base import (
    Progress,
    Tally,
    parse_iso,
    text_lines,
)
from backscatter.sentlog.records import SentRecipient

_LINE = re.compile(
    r"^(?P<stamp>[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) \S+ "
    r"(?P<service>[\w.-]+(?:/[\w.-]+)+)\[\d+\]: (?P<qid>[0-9A-Za-z]{5,20}): (?P<rest>.*)$"
)
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_MAX_IN_FLIGHT = 200_000


@dataclass(slots=True)
class _Queued:
    arrived: datetime
    message_id: str | None = None
    sender: str | None = None
    attempted: bool = False


def read_postfix(
    path: str,
    tally: Tally,
    progress: Progress | None = None,
    now: datetime | None = None,
    zone: tzinfo | None = None,
) -> Iterator[SentRecipient]:
    """Rows from a Postfix log; traditional stamps are read in ``zone`` (default: local time,
    which is what syslog wrote them in on the machine that usually imports them)."""
    queue: OrderedDict[str, _Queued] = OrderedDict()
    zone = zone or datetime.now().astimezone().tzinfo or UTC
    clock = _SyslogClock((now or datetime.now(UTC)).astimezone(zone))
    for number, line in enumerate(text_lines(path, tally, progress), 1):
        if "postfix" not in line:
            continue
        match = _LINE.match(line)
        if match is None:
            if "to=<" in line or "message-id=" in line:
                tally.bad(f"{path}:{number}", line)
            continue
        qid, rest = match["qid"], match["rest"]
        if rest.startswith("message-id="):
            entry = _entry(queue, qid, clock.read(match["stamp"]))
            entry.message_id = message_id_key(rest[len("message-id=") :])
        elif rest.startswith("from=<"):
            entry = _entry(queue, qid, clock.read(match["stamp"]))
            entry.sender = address_key(rest[5 : rest.find(">", 5) + 1])
        elif rest.startswith("to=<"):
            entry = queue.get(qid)
            if entry is not None:
                entry.attempted = True
            if not _delivery(rest):
                continue  # an address-verification probe (status=deliverable) and the like
            if entry is None or entry.sender is None:
                tally.bad(f"{path}:{number}", line)  # the message began before this log
                continue
            if not entry.sender:
                continue  # a bounce we generated ourselves (null sender): not mail we sent
            yield SentRecipient(
                message_id=entry.message_id,
                sent_at=entry.arrived,
                sender=entry.sender,
                recipient=address_key(rest[3 : rest.find(">", 3) + 1]),
            )
        elif rest.startswith("removed"):
            done = queue.pop(qid, None)
            if done is not None and _unattempted(done):
                yield _id_only(done)
    yield from (_id_only(entry) for entry in queue.values() if _unattempted(entry))


def _delivery(rest: str) -> bool:
    """Whether a ``to=`` line reports a delivery attempt (sent, deferred or bounced)."""
    return "status=sent" in rest or "status=deferred" in rest or "status=bounced" in rest


def _unattempted(entry: _Queued) -> bool:
    """Ours (a sender that is not null), with a Message-ID, and no delivery line in this log:
    removed without one, or still queued when the log ends."""
    return bool(entry.sender and entry.message_id) and not entry.attempted


def _id_only(entry: _Queued) -> SentRecipient:
    return SentRecipient(entry.message_id, entry.arrived, entry.sender or "", "")


def _entry(queue: OrderedDict[str, _Queued], qid: str, moment: datetime) -> _Queued:
    entry = queue.get(qid)
    if entry is None:
        entry = queue[qid] = _Queued(moment)
        if len(queue) > _MAX_IN_FLIGHT:
            queue.popitem(last=False)  # the oldest: its `removed` line was never logged
    return entry


class _SyslogClock:
    """Reads both stamp styles; the traditional one has no year, so it is inferred.

    A stamp is put in the current year unless that would be more than a day in the future,
    in which case it is last year's (a log rotated across New Year). The last stamp read is
    remembered: a busy log writes many lines a second, and building the datetime was the
    largest single cost of an import.
    """

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._stamp = ""
        self._moment = now

    def read(self, stamp: str) -> datetime:
        if stamp != self._stamp:
            self._moment = self._read(stamp)
            self._stamp = stamp
        return self._moment

    def _read(self, stamp: str) -> datetime:
        if stamp[0].isdigit():
            return parse_iso(stamp)
        month, day, clock = stamp.split()
        hour, minute, second = (int(part) for part in clock.split(":"))
        zone = self.now.tzinfo
        moment = datetime(
            self.now.year, _MONTHS[month], int(day), hour, minute, second, tzinfo=zone
        )
        if moment > self.now + timedelta(days=1):
            moment = moment.replace(year=self.now.year - 1)
        return moment
