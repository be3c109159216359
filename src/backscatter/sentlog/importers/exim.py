"""Exim mainlog: ``<=`` arrivals (``id=``, ``T=``) joined to ``=>``, ``->``, ``**`` and ``==``.

Exim writes one line per event with the message's Exim ID, so the arrival line gives sender,
Message-ID and subject, and each delivery, failure or deferral line one recipient.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from backscatter.sentlog.importers.base import (
    Progress,
    Tally,
    bare_address,
    bare_message_id,
    parse_iso,
    text_lines,
)
from backscatter.sentlog.records import SentRecipient

_LINE = re.compile(
    r"^(?P<date>\d{4}-\d\d-\d\d) (?P<time>\d\d:\d\d:\d\d(?:\.\d+)?)(?: (?P<zone>[+-]\d{4}))?"
    r"(?: \[\d+\])? (?P<id>[0-9A-Za-z]{6,}-[0-9A-Za-z]{4,}-[0-9A-Za-z]{2,4}) "
    r"(?P<flag><=|=>|->|\*\*|==) (?P<address>\S+)(?P<rest>.*)$"
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


def read_exim(path: str, tally: Tally, progress: Progress | None = None) -> Iterator[SentRecipient]:
    arrivals: OrderedDict[str, _Arrival] = OrderedDict()
    for number, line in enumerate(text_lines(path, progress), 1):
        match = _LINE.match(line.rstrip("\n"))
        if match is None:
            if " <= " in line or " => " in line:
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
        if arrival.sender in ("", "<>"):
            continue  # a bounce Exim generated (null sender): not mail we sent
        routed = _ROUTED.match(rest)  # "=> alias <real@domain>" names the final address
        yield SentRecipient(
            message_id=arrival.message_id,
            sent_at=arrival.received,
            sender=arrival.sender,
            recipient=bare_address(routed.group(1) if routed else match["address"]),
            subject=arrival.subject,
        )


def _arrival(match: re.Match[str], rest: str) -> _Arrival:
    stamp = f"{match['date']}T{match['time']}"
    if match["zone"]:
        stamp += f"{match['zone'][:3]}:{match['zone'][3:]}"
    found_id = _ID.search(rest)
    subject = _SUBJECT.search(rest)
    return _Arrival(
        received=parse_iso(stamp),
        sender=bare_address(match["address"]),
        message_id=bare_message_id(found_id.group(1)) if found_id else None,
        subject=subject.group(1).replace('\\"', '"') if subject else None,
    )
