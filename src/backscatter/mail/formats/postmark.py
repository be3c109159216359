"""Postmark bounce webhooks and Bounces API records (JSON), as a file or a mailed body.

Postmark's "Bounce webhook" and "Bounces API" documents (postmarkapp.com/developer) give one
bounce per object: ``RecordType`` "Bounce", ``Type`` / ``TypeCode`` (HardBounce 1, Transient
2, SoftBounce 4096, DnsError 256, BadEmailAddress 100000, Blocked 100006, ...), ``Email``,
``Description`` and ``Details`` (the remote reply, e.g. "smtp;550 5.1.1 ..."). The API lists
them under ``Bounces``. ``MessageID`` is Postmark's own message ID, not the RFC 5322
Message-ID header, so it is not reported as the original's Message-ID. Types that are not
delivery failures (auto-responders, subscribe requests, spam complaints) are not bounces.
"""

from __future__ import annotations

from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.jsonevents import events, json_body, recipient, text_of
from backscatter.mail.message import MessageView

#: Postmark bounce types that report a failed delivery, and whether each is permanent.
_FAILURES: dict[str, bool | None] = {
    "HardBounce": True,
    "BadEmailAddress": True,
    "ManuallyDeactivated": True,
    "DMARCPolicy": True,
    "Blocked": None,
    "Unknown": None,
    "SMTPApiError": None,
    "Transient": False,
    "SoftBounce": False,
    "DnsError": False,
}


class Postmark:
    name = "postmark"

    def recognise(self, view: MessageView) -> Report | None:
        document = json_body(view, "RecordType", "TypeCode", "Bounces")
        if isinstance(document, dict) and isinstance(document.get("Bounces"), list):
            document = document["Bounces"]
        found: list[FoundRecipient] = []
        seen = False
        for event in events(document):
            kind = text_of(event.get("Type"))
            if kind is None or "Email" not in event:
                continue
            if text_of(event.get("RecordType")) not in (None, "Bounce"):
                continue
            seen = True
            if kind not in _FAILURES:
                continue
            details = text_of(event.get("Details"))
            diagnostic = details or text_of(event.get("Description"))
            entry = recipient(event.get("Email"), diagnostic, None, _FAILURES[kind])
            if entry is not None:
                found.append(entry)
        if found:
            return Report(self.name, recipients=found)
        return Report(self.name, is_bounce=False) if seen else None


RECOGNISER = Postmark()
