"""Exim mainlog: ``<=`` arrivals (``id=``, ``T=``) joined to ``=>``, ``->``, ``**`` and ``==``.

Exim writes one line per event with the message's Exim ID, so the arrival line gives sender,
Message-ID and subject, and each delivery, failure or deferral line one recipient. A message
that arrived with a Message-ID but has no such line (``Completed`` without one, or still
queued when the log ends) becomes one Message-ID-only row. Line wording: the Exim
specification, chapter "Log files" ("Log line flags", "Logging message reception").
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from backscatter.mail.identifiers import address_key, message_id_key
from backscatter.sentlog.importers.base import (
    Progress,
    Tally,
    parse_iso,
    text_lines,
)
from backscatter.sentlog.records import SentRecipient

_LINE = re.compile(
    r"^(?P<date>\d{4}-\d\d-\d\d) (?P<time>\d\d:\d\d:\d\d(?:\.\d+)?)(?: (?P<zone>[+-]\d{4}))?"
    r"(?: \[\d+\])? (?P<id>[0-9A-Za-z]{6,}-[0-9A-Za-z]{4,}-[0-9A-Za-z]{2,4}) "
    r"(?P<flag><=|=>|->|\*\*|==) (?P<address>\S+)(?P<rest>.*)$"
)
_DONE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? (?:[+-]\d{4} )?(?:\[\d+\] )?"
    r"(?P<id>[0-9A-Za-z]{6,}-[0-9A-Za-z]{4,}-[0-9A-Za-z]{2,4}) Completed"
)
_ID = re.compile(r" id=(\S+)")
_SUBJECT = re.compile(r' T="((?:[^"\\]|\\.){0,998})"')
_ROUTED = re.compile(r"^ <([^<>\s]+@[^<>\s]+)>")
_MAX_IN_FLIGHT = 200_000


@dataclass(slots=True)
class _Arrival:
    received: datetime
    sender: str
    message_id: str | None
    subject: str | None
    attempted: bool = False


def read_exim(path: str, tally: Tally, progress: Progress | None = None) -> Iterator[SentRecipient]:
    arrivals: OrderedDict[str, _Arrival] = OrderedDict()
    for number, line in enumerate(text_lines(path, tally, progress), 1):
        match = _LINE.match(line.rstrip("\n"))
        if match is None:
            done = _DONE.match(line) if " Completed" in line else None
            finished = arrivals.pop(done["id"], None) if done else None
            if finished is not None and _unattempted(finished):
                yield _id_only(finished)
            elif done is None and (" <= " in line or " => " in line):
                tally.bad(f"{path}:{number}", line)
            continue
        flag, rest = match["flag"], match["rest"]
        if flag == "<=":
            arrivals[match["id"]] = _arrival(match, rest)
            if len(arrivals) > _MAX_IN_FLIGHT:
                arrivals.popitem(last=False)
            continue
        arrival = arrivals.get(match["id"])
        if arrival is None:
            tally.bad(f"{path}:{number}", line)  # the message arrived before this log began
            continue
        arrival.attempted = True
        if arrival.sender in ("", "<>"):
            continue  # a bounce Exim generated (null sender): not mail we sent
        routed = _ROUTED.match(rest)  # "=> alias <real@domain>" names the final address
        yield SentRecipient(
            message_id=arrival.message_id,
            sent_at=arrival.received,
            sender=arrival.sender,
            recipient=address_key(routed.group(1) if routed else match["address"]),
            subject=arrival.subject,
        )
    yield from (_id_only(arrival) for arrival in arrivals.values() if _unattempted(arrival))


def _unattempted(arrival: _Arrival) -> bool:
    """Ours (not a null-sender bounce), with a Message-ID, and no delivery line in this log:
    completed without one, or still queued when the log ends."""
    return arrival.sender not in ("", "<>") and bool(arrival.message_id) and not arrival.attempted


def _id_only(arrival: _Arrival) -> SentRecipient:
    return SentRecipient(arrival.message_id, arrival.received, arrival.sender, "", arrival.subject)


def _arrival(match: re.Match[str], rest: str) -> _Arrival:
    stamp = f"{match['date']}T{match['time']}"
    if match["zone"]:
        stamp += f"{match['zone'][:3]}:{match['zone'][3:]}"
    found_id = _ID.search(rest)
    subject = _SUBJECT.search(rest)
    return _Arrival(
        received=parse_iso(stamp),
        sender=address_key(match["address"]),
        message_id=message_id_key(found_id.group(1)) if found_id else None,
        subject=subject.group(1).replace('\\"', '"') if subject else None,
    )
